using System.Linq.Expressions;
using System.Reflection;

namespace RagCluster.Runtime.Serialization;

/// <summary>
/// Records, classes and structs: public properties and fields in name order. Construction uses the
/// constructor whose parameters match members by name (records), then setters for the rest.
/// </summary>
internal sealed class ObjectCodec<T> : Codec<T>
{
    private sealed record Member(string Name, Type Type, Func<object, object?> Get, Action<object, object?>? Set, int CtorIndex)
    {
        public Codec Codec = null!;
    }

    private readonly Member[] _members;
    private readonly ConstructorInfo? _ctor;
    private readonly int _ctorArity;
    private readonly bool _isValueType = typeof(T).IsValueType;
    private volatile bool _resolved;

    public ObjectCodec()
    {
        var type = typeof(T);
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.GetMethod is { IsPublic: true });
        var fields = type.GetFields(BindingFlags.Public | BindingFlags.Instance);

        // Prefer a constructor whose every parameter names a member (the record / immutable-class shape).
        var memberNames = properties.Select(p => (p.Name, p.PropertyType)).Concat(fields.Select(f => (f.Name, f.FieldType))).ToList();
        _ctor = type.GetConstructors()
            .Where(c => c.GetParameters().All(p => memberNames.Any(m => string.Equals(m.Name, p.Name, StringComparison.OrdinalIgnoreCase) && m.Item2 == p.ParameterType)))
            .OrderByDescending(c => c.GetParameters().Length)
            .FirstOrDefault();
        if (_ctor is null && !type.IsValueType)
            throw new NotSupportedException($"type {type} cannot cross the wire: it needs a public parameterless constructor or one whose parameters match its properties");
        var ctorParams = _ctor?.GetParameters() ?? [];
        _ctorArity = ctorParams.Length;

        int CtorIndex(string name) => Array.FindIndex(ctorParams, p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

        var members = new List<Member>();
        foreach (var p in properties)
        {
            var index = CtorIndex(p.Name);
            var setter = p.SetMethod is { IsPublic: true } ? (Action<object, object?>)p.SetValue : null;
            if (index < 0 && setter is null) continue; // computed, read-only: derived from the others
            members.Add(new Member(p.Name, p.PropertyType, CompileGetter(p), setter, index));
        }
        foreach (var f in fields)
        {
            var index = CtorIndex(f.Name);
            var setter = f.IsInitOnly ? null : (Action<object, object?>)f.SetValue;
            if (index < 0 && setter is null) continue;
            members.Add(new Member(f.Name, f.FieldType, CompileGetter(f), setter, index));
        }
        _members = members.OrderBy(m => m.Name, StringComparer.Ordinal).ToArray();
    }

    private static Func<object, object?> CompileGetter(MemberInfo member)
    {
        var instance = Expression.Parameter(typeof(object));
        var access = Expression.MakeMemberAccess(Expression.Convert(instance, member.DeclaringType!), member);
        return Expression.Lambda<Func<object, object?>>(Expression.Convert(access, typeof(object)), instance).Compile();
    }

    // Member codecs resolve on first use so recursive types (a node holding nodes) can be built.
    private void Resolve()
    {
        if (_resolved) return;
        foreach (var m in _members) m.Codec = For(m.Type);
        _resolved = true;
    }

    public override void Write(WireWriter w, T v)
    {
        Resolve();
        if (v is null) { w.WriteByte(0); return; }
        w.WriteByte(1);
        object boxed = v;
        foreach (var m in _members) m.Codec.WriteObject(w, m.Get(boxed));
    }

    public override T Read(WireReader r)
    {
        Resolve();
        switch (r.ReadByte())
        {
            case 0 when !_isValueType: return default!;
            case 1: break;
            case var b: throw new BadMessageException($"invalid object marker {b} for {typeof(T).Name}");
        }
        r.Enter();
        var values = new object?[_members.Length];
        for (var i = 0; i < _members.Length; i++) values[i] = _members[i].Codec.ReadObject(r);
        r.Leave();

        var args = new object?[_ctorArity];
        for (var i = 0; i < _members.Length; i++)
            if (_members[i].CtorIndex >= 0) args[_members[i].CtorIndex] = values[i];
        object instance;
        try
        {
            instance = _ctor is null ? Activator.CreateInstance(typeof(T))! : _ctor.Invoke(args);
        }
        catch (TargetInvocationException e)
        {
            // A constructor that validates (throws on bad values) is a rejection of the input, not a crash.
            throw new BadMessageException($"{typeof(T).Name} rejected the received values: {e.InnerException?.Message}");
        }
        for (var i = 0; i < _members.Length; i++)
            if (_members[i].CtorIndex < 0) _members[i].Set!(instance, values[i]);
        return (T)instance;
    }
}
