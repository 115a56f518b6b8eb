using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using RagCluster.Runtime.Serialization;

namespace RagCluster.Runtime.Invocation;

/// <summary>What a grain method returns, which decides how the call is awaited and its result handed back.</summary>
internal enum ReturnShape { Task, TaskOfT, ValueTask, ValueTaskOfT }

/// <summary>One method of a grain interface: its stable id, argument codecs and result codec.</summary>
internal sealed class GrainMethod
{
    public GrainMethod(GrainInterface owner, MethodInfo method)
    {
        Owner = owner;
        Method = method;
        Signature = $"{method.Name}({string.Join(",", method.GetParameters().Select(p => p.ParameterType.FullName))})";
        Id = Fnv1a(Signature);

        var returnType = method.ReturnType;
        (Shape, ResultType) = returnType switch
        {
            _ when returnType == typeof(Task) => (ReturnShape.Task, (Type?)null),
            _ when returnType == typeof(ValueTask) => (ReturnShape.ValueTask, null),
            { IsGenericType: true } when returnType.GetGenericTypeDefinition() == typeof(Task<>) => (ReturnShape.TaskOfT, returnType.GetGenericArguments()[0]),
            { IsGenericType: true } when returnType.GetGenericTypeDefinition() == typeof(ValueTask<>) => (ReturnShape.ValueTaskOfT, returnType.GetGenericArguments()[0]),
            _ => throw new NotSupportedException($"{owner.Type.Name}.{method.Name} returns {returnType.Name}; grain methods return Task, Task<T>, ValueTask or ValueTask<T>"),
        };
        if (method.IsGenericMethodDefinition)
            throw new NotSupportedException($"{owner.Type.Name}.{method.Name} is generic; grain methods cannot be");
        foreach (var p in method.GetParameters())
            if (p.ParameterType.IsByRef || p.IsOut)
                throw new NotSupportedException($"{owner.Type.Name}.{method.Name} has a ref/out parameter '{p.Name}'");

        // Resolving codecs here surfaces an unserializable parameter when the interface is first used, not mid-call.
        ParameterCodecs = method.GetParameters().Select(p => WrapCodec(owner, method, p.Name!, p.ParameterType)).ToArray();
        ResultCodec = ResultType is null ? null : WrapCodec(owner, method, "return value", ResultType);
        FromResultTask = BuildResultAdapter();
    }

    public GrainInterface Owner { get; }
    public MethodInfo Method { get; }
    public string Signature { get; }
    public uint Id { get; }
    public ReturnShape Shape { get; }
    public Type? ResultType { get; }
    public Codec[] ParameterCodecs { get; }
    public Codec? ResultCodec { get; }

    /// <summary>Turns the runtime's Task&lt;object?&gt; into what the interface method declares (Task&lt;int&gt;, ValueTask...).</summary>
    public Func<Task<object?>, object> FromResultTask { get; }

    public override string ToString() => $"{Owner.Type.Name}.{Signature}";

    public byte[] WriteArguments(object?[]? args)
    {
        var writer = new WireWriter();
        for (var i = 0; i < ParameterCodecs.Length; i++) ParameterCodecs[i].WriteObject(writer, args![i]);
        return writer.ToArray();
    }

    public object?[] ReadArguments(ReadOnlyMemory<byte> bytes)
    {
        var reader = new WireReader(bytes);
        var args = new object?[ParameterCodecs.Length];
        for (var i = 0; i < args.Length; i++) args[i] = ParameterCodecs[i].ReadObject(reader);
        if (reader.Remaining != 0) throw new BadMessageException($"{reader.Remaining} unexpected bytes after the arguments of {this}");
        return args;
    }

    public byte[] WriteResult(object? result)
    {
        if (ResultCodec is null) return [];
        var writer = new WireWriter();
        ResultCodec.WriteObject(writer, result);
        return writer.ToArray();
    }

    public object? ReadResult(ReadOnlyMemory<byte> bytes) => ResultCodec is null ? null : ReadWhole(ResultCodec, bytes);

    private static object? ReadWhole(Codec codec, ReadOnlyMemory<byte> bytes)
    {
        var reader = new WireReader(bytes);
        var value = codec.ReadObject(reader);
        if (reader.Remaining != 0) throw new BadMessageException("unexpected bytes after a result");
        return value;
    }

    private static Codec WrapCodec(GrainInterface owner, MethodInfo method, string what, Type type)
    {
        try { return Codec.For(type); }
        catch (NotSupportedException e)
        {
            throw new NotSupportedException($"{owner.Type.Name}.{method.Name} {what}: {e.Message}", e);
        }
    }

    private Func<Task<object?>, object> BuildResultAdapter() => Shape switch
    {
        ReturnShape.Task => t => (Task)t,
        ReturnShape.ValueTask => t => new ValueTask(t),
        _ => (Func<Task<object?>, object>)typeof(GrainMethod)
            .GetMethod(Shape == ReturnShape.TaskOfT ? nameof(ToTask) : nameof(ToValueTask), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(ResultType!)
            .CreateDelegate(typeof(Func<Task<object?>, object>)),
    };

    private static object ToTask<T>(Task<object?> task) => Cast<T>(task);
    private static object ToValueTask<T>(Task<object?> task) => new ValueTask<T>(Cast<T>(task));
    private static async Task<T> Cast<T>(Task<object?> task) => (T)(await task.ConfigureAwait(false))!;

    private static uint Fnv1a(string text)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(text)) hash = (hash ^ b) * 16777619u;
        return hash;
    }
}

/// <summary>A grain interface: its wire name and methods (including inherited grain interfaces).</summary>
internal sealed class GrainInterface
{
    private static readonly ConcurrentDictionary<Type, GrainInterface> Cache = new();

    private GrainInterface(Type type)
    {
        if (!type.IsInterface || !typeof(IGrain).IsAssignableFrom(type))
            throw new ArgumentException($"{type} is not a grain interface (an interface deriving from IGrainWithStringKey)");
        Type = type;
        Name = type.FullName!;
        var methods = new[] { type }.Concat(type.GetInterfaces())
            .Where(i => i != typeof(IGrain) && i != typeof(IGrainWithStringKey))
            .SelectMany(i => i.GetMethods())
            .Select(m => new GrainMethod(this, m))
            .ToList();
        ById = new Dictionary<uint, GrainMethod>();
        foreach (var m in methods)
            if (!ById.TryAdd(m.Id, m) && ById[m.Id].Signature != m.Signature)
                throw new NotSupportedException($"{type.Name}: methods {m.Signature} and {ById[m.Id].Signature} hash to the same id; rename one");
        ByMethod = methods.ToDictionary(m => m.Method);
    }

    public static GrainInterface For(Type type) => Cache.GetOrAdd(type, t => new GrainInterface(t));

    public Type Type { get; }
    public string Name { get; }
    public Dictionary<uint, GrainMethod> ById { get; }
    public Dictionary<MethodInfo, GrainMethod> ByMethod { get; }
}

/// <summary>Server side: calls a method on a grain instance and awaits it into a plain result object.</summary>
internal static class MethodInvoker
{
    private static readonly ConcurrentDictionary<MethodInfo, Func<object, object?[], Task<object?>>> Cache = new();

    public static Func<object, object?[], Task<object?>> For(GrainMethod method) => Cache.GetOrAdd(method.Method, _ => Build(method));

    private static Func<object, object?[], Task<object?>> Build(GrainMethod method)
    {
        var grain = Expression.Parameter(typeof(object), "grain");
        var args = Expression.Parameter(typeof(object?[]), "args");
        var parameters = method.Method.GetParameters()
            .Select((p, i) => (Expression)Expression.Convert(Expression.ArrayIndex(args, Expression.Constant(i)), p.ParameterType));
        var call = Expression.Call(Expression.Convert(grain, method.Method.DeclaringType!), method.Method, parameters);
        var awaiter = method.Shape switch
        {
            ReturnShape.Task => typeof(MethodInvoker).GetMethod(nameof(AwaitTask), BindingFlags.NonPublic | BindingFlags.Static)!,
            ReturnShape.ValueTask => typeof(MethodInvoker).GetMethod(nameof(AwaitValueTask), BindingFlags.NonPublic | BindingFlags.Static)!,
            ReturnShape.TaskOfT => typeof(MethodInvoker).GetMethod(nameof(AwaitTaskOfT), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(method.ResultType!),
            _ => typeof(MethodInvoker).GetMethod(nameof(AwaitValueTaskOfT), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(method.ResultType!),
        };
        var body = Expression.Call(awaiter, call);
        return Expression.Lambda<Func<object, object?[], Task<object?>>>(body, grain, args).Compile();
    }

    // No ConfigureAwait(false): grain code continues on its activation's scheduler.
    private static async Task<object?> AwaitTask(Task task) { await task; return null; }
    private static async Task<object?> AwaitValueTask(ValueTask task) { await task; return null; }
    private static async Task<object?> AwaitTaskOfT<T>(Task<T> task) => await task;
    private static async Task<object?> AwaitValueTaskOfT<T>(ValueTask<T> task) => await task;
}
