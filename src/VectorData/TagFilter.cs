using System.Linq.Expressions;
using Microsoft.Extensions.VectorData.ProviderServices;

namespace RagCluster.VectorData;

/// <summary>
/// A VectorData filter as RagCluster's tag filter: equalities on data properties (r.Lang == "en", r.Year == year,
/// r.Done, !r.Done), joined with &amp;&amp;. RagCluster filters shards by exact tag match, so anything else (||, !=, ranges,
/// the key or the full-text property) is refused with NotSupportedException rather than answered wrongly.
/// </summary>
internal static class TagFilter
{
    public static Dictionary<string, string> Translate(LambdaExpression? filter, CollectionModel model)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (filter is not null) Visit(filter.Body, filter.Parameters[0], model, tags);
        return tags;
    }

    private static void Visit(Expression e, ParameterExpression record, CollectionModel model, Dictionary<string, string> tags)
    {
        switch (e)
        {
            case BinaryExpression { NodeType: ExpressionType.AndAlso } and:
                Visit(and.Left, record, model, tags);
                Visit(and.Right, record, model, tags);
                return;
            case BinaryExpression { NodeType: ExpressionType.Equal } eq:
                if (Property(eq.Left, record, model) is { } left) Add(tags, left, Value(eq.Right));
                else if (Property(eq.Right, record, model) is { } right) Add(tags, right, Value(eq.Left));
                else throw Unsupported(e);
                return;
            case UnaryExpression { NodeType: ExpressionType.Not } not when Property(not.Operand, record, model) is { Type: var t } p && (Nullable.GetUnderlyingType(t) ?? t) == typeof(bool):
                Add(tags, p, false);
                return;
            case var _ when Property(e, record, model) is { Type: var t } flag && (Nullable.GetUnderlyingType(t) ?? t) == typeof(bool):
                Add(tags, flag, true);
                return;
            case ConstantExpression { Value: true }:
                return;
            default:
                throw Unsupported(e);
        }
    }

    private static void Add(Dictionary<string, string> tags, DataPropertyModel property, object? value)
    {
        if (value is null) throw new NotSupportedException($"RagCluster cannot filter on '{property.ModelName}' being null (a missing tag)");
        var text = RecordMapper.Format(value);
        if (tags.TryGetValue(property.StorageName, out var other) && other != text)
            throw new NotSupportedException($"the filter asks '{property.ModelName}' to be both {other} and {text}");
        tags[property.StorageName] = text;
    }

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
        return model.PropertyMap.TryGetValue(name, out var p) && p is DataPropertyModel { IsFullTextIndexed: false } data
            ? data
            : throw new NotSupportedException($"RagCluster filters on data properties (tags); '{name}' is not one");
    }

    // A constant or a captured variable; an expression over the record itself (r.A == r.B) cannot be a tag value.
    private static object? Value(Expression e)
    {
        if (e is ConstantExpression c) return c.Value;
        try { return Expression.Lambda(e).Compile(preferInterpretation: true).DynamicInvoke(); }
        catch (InvalidOperationException) { throw Unsupported(e); }
    }

    private static NotSupportedException Unsupported(Expression e) =>
        new($"RagCluster filters are equalities on data properties joined with &amp;&amp; (tags must match exactly); cannot translate '{e}'");
}
