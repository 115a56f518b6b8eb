using System.Collections;
using System.Linq.Expressions;
using System.Text.Json.Nodes;
using Microsoft.Extensions.VectorData.ProviderServices;

namespace RagCluster.VectorData;

/// <summary>
/// A VectorData filter as RagCluster's filter language (docs/filters.md): ==, !=, &lt;, &lt;=, &gt;, &gt;= between a data
/// property and a value, &amp;&amp;, ||, !, a bool property alone, and Contains (a list of values holding the property:
/// <c>$in</c>; an array property holding a value, or any of a list's with Any: <c>$containsAny</c>). Comparing with null asks whether the tag is
/// missing. Anything else (the key, the full-text property, two properties compared) is refused with
/// NotSupportedException rather than answered wrongly.
/// </summary>
internal static class TagFilter
{
    /// <summary>The filter's JSON, or null for none.</summary>
    public static JsonObject? Translate(LambdaExpression? filter, CollectionModel model) =>
        filter is null || filter.Body is ConstantExpression { Value: true } ? null : Visit(filter.Body, filter.Parameters[0], model);

    private static JsonObject Visit(Expression e, ParameterExpression record, CollectionModel model)
    {
        switch (e)
        {
            case BinaryExpression { NodeType: ExpressionType.AndAlso or ExpressionType.OrElse } both:
                return new JsonObject
                {
                    [both.NodeType == ExpressionType.AndAlso ? "$and" : "$or"] = new JsonArray(Visit(both.Left, record, model), Visit(both.Right, record, model)),
                };
            case BinaryExpression { NodeType: ExpressionType.Equal or ExpressionType.NotEqual or ExpressionType.LessThan or ExpressionType.LessThanOrEqual
                or ExpressionType.GreaterThan or ExpressionType.GreaterThanOrEqual } compare:
                return Comparison(compare, record, model);
            case UnaryExpression { NodeType: ExpressionType.Not } not:
                return Property(not.Operand, record, model) is { } flag && IsBool(flag)
                    ? Field(flag, "$eq", false)
                    : new JsonObject { ["$not"] = Visit(not.Operand, record, model) };
            case MethodCallExpression { Method.Name: "Contains" } call:
                return Contains(call, record, model);
            case MethodCallExpression { Method.Name: "Any", Arguments: [var source, var predicate] } any:
                return Any(any, source, predicate, record, model);
            case var _ when Property(e, record, model) is { } alone && IsBool(alone):
                return Field(alone, "$eq", true);
            default:
                throw Unsupported(e);
        }
    }

    private static JsonObject Comparison(BinaryExpression compare, ParameterExpression record, CollectionModel model)
    {
        var op = compare.NodeType;
        var property = Property(compare.Left, record, model);
        var other = compare.Right;
        if (property is null)
        {
            property = Property(compare.Right, record, model) ?? throw Unsupported(compare);
            other = compare.Left;
            op = op switch // the value on the left: 3 < r.A is r.A > 3
            {
                ExpressionType.LessThan => ExpressionType.GreaterThan,
                ExpressionType.LessThanOrEqual => ExpressionType.GreaterThanOrEqual,
                ExpressionType.GreaterThan => ExpressionType.LessThan,
                ExpressionType.GreaterThanOrEqual => ExpressionType.LessThanOrEqual,
                _ => op,
            };
        }
        var value = Value(other);
        if (value is null)
            return op switch
            {
                ExpressionType.Equal => new JsonObject { ["$not"] = Field(property, "$exists", true) },
                ExpressionType.NotEqual => Field(property, "$exists", true),
                _ => throw new NotSupportedException($"'{property.ModelName}' compared with null: only == and != can be"),
            };
        return Field(property, op switch
        {
            ExpressionType.Equal => "$eq",
            ExpressionType.NotEqual => "$ne",
            ExpressionType.LessThan => "$lt",
            ExpressionType.LessThanOrEqual => "$lte",
            ExpressionType.GreaterThan => "$gt",
            _ => "$gte",
        }, value);
    }

    // values.Contains(r.A) (a list, array or span of values): $in; r.Tags.Contains("x") (an array property): $containsAny.
    private static JsonObject Contains(MethodCallExpression call, ParameterExpression record, CollectionModel model)
    {
        var (source, item) = Operands(call);
        if (Property(source, record, model) is { } array)
            return Field(array, "$containsAny", new JsonArray(JsonValueOf(Value(item) ?? throw Unsupported(call))));
        var property = Property(item, record, model) ?? throw Unsupported(call);
        return Field(property, "$in", ValueList(source, call, $"'{property.ModelName}' in"));
    }

    // r.Tags.Any(t => values.Contains(t)): the array property holds one of the values, $containsAny.
    private static JsonObject Any(MethodCallExpression any, Expression source, Expression predicate, ParameterExpression record, CollectionModel model)
    {
        while (predicate is UnaryExpression { NodeType: ExpressionType.Quote } quote) predicate = quote.Operand;
        if (Property(source, record, model) is not { } array || predicate is not LambdaExpression { Parameters: [var item], Body: MethodCallExpression { Method.Name: "Contains" } contains })
            throw Unsupported(any);
        var (values, candidate) = Operands(contains);
        while (candidate is UnaryExpression { NodeType: ExpressionType.Convert } convert) candidate = convert.Operand;
        if (candidate != item) throw Unsupported(any);
        return Field(array, "$containsAny", ValueList(values, any, $"'{array.ModelName}' holding one of"));
    }

    // A Contains call's collection and item, whether an instance call (list.Contains(x)) or an extension (values.Contains(x),
    // an array seen as a span through op_Implicit).
    private static (Expression Source, Expression Item) Operands(MethodCallExpression call)
    {
        var (source, item) = call.Object is { } target ? (target, call.Arguments[0]) : (call.Arguments[0], call.Arguments[1]);
        while (source is MethodCallExpression { Method.Name: "op_Implicit", Arguments: [var inner] }) source = inner; // array → span
        return (source, item);
    }

    // The caller's list of values as JSON: none of them null, and not empty (it would match nothing).
    private static JsonArray ValueList(Expression values, Expression call, string what)
    {
        var list = new JsonArray();
        foreach (var v in Value(values) as IEnumerable ?? throw Unsupported(call))
            list.Add(JsonValueOf(v ?? throw new NotSupportedException($"{what} a list holding null")));
        if (list.Count == 0) throw new NotSupportedException($"{what} an empty list matches nothing; leave the filter out or search nothing");
        return list;
    }

    private static JsonObject Field(DataPropertyModel property, string op, object value) =>
        new() { [property.StorageName] = new JsonObject { [op] = value as JsonNode ?? JsonValueOf(value) } };

    private static JsonNode? JsonValueOf(object? value) => RecordMapper.TagValue(value) switch
    {
        string[] items => new JsonArray(items.Select(i => (JsonNode)JsonValue.Create(i)).ToArray()),
        var v => JsonValue.Create(v),
    };

    private static bool IsBool(DataPropertyModel p) => (Nullable.GetUnderlyingType(p.Type) ?? p.Type) == typeof(bool);

    // r.Prop, r.Prop.Value, (object)r.Prop, or r["name"] for dynamic records; a data property that is not the full-text one.
    private static DataPropertyModel? Property(Expression e, ParameterExpression record, CollectionModel model)
    {
        while (e is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } convert) e = convert.Operand;
        if (e is MemberExpression { Member.Name: "Value", Expression: { } inner } && Nullable.GetUnderlyingType(inner.Type) is not null) e = inner;
        string? name = e switch
        {
            MemberExpression m when m.Expression == record => m.Member.Name,
            MethodCallExpression { Method.Name: "get_Item", Object: var o, Arguments: [ConstantExpression { Value: string key }] } when o == record => key,
            _ => null,
        };
        if (name is null) return null;
        // A name the model does not have is the caller's mistake (a dynamic record's key, say), not a filter RagCluster lacks.
        if (!model.PropertyMap.TryGetValue(name, out var p)) throw new InvalidOperationException($"'{name}' is not a property of the collection's record definition");
        return p is DataPropertyModel { IsFullTextIndexed: false } data
            ? data
            : throw new NotSupportedException($"RagCluster filters on data properties (tags); '{name}' is not one");
    }

    // A constant or a captured variable; an expression over the record itself (r.A == r.B) cannot be a tag value.
    private static object? Value(Expression e)
    {
        if (e is ConstantExpression c) return c.Value;
        Delegate value;
        try { value = Expression.Lambda(e).Compile(preferInterpretation: true); }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException) { throw Unsupported(e); }
        // What the value itself throws (a null int?'s .Value: InvalidOperationException) is the caller's, as it was thrown.
        try { return value.DynamicInvoke(); }
        catch (System.Reflection.TargetInvocationException ex) when (ex.InnerException is { } thrown) { System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(thrown); throw; }
    }

    private static NotSupportedException Unsupported(Expression e) =>
        new($"RagCluster filters compare data properties with values (==, !=, <, <=, >, >=, Contains) joined with &&, || and !; cannot translate '{e}'");
}
