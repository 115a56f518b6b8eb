using System.Collections.Concurrent;

namespace RagCluster.Runtime.Serialization;

internal static class CodecBuilder
{
    private static readonly Dictionary<Type, Codec> Primitives = new Codec[]
    {
        new BoolCodec(), new ByteCodec(), new SByteCodec(), new Int16Codec(), new UInt16Codec(), new Int32Codec(),
        new UInt32Codec(), new Int64Codec(), new UInt64Codec(), new CharCodec(), new SingleCodec(), new DoubleCodec(),
        new DecimalCodec(), new StringCodec(), new GuidCodec(), new DateTimeCodec(), new DateTimeOffsetCodec(),
        new TimeSpanCodec(), new UnmanagedArrayCodec<byte>(), new UnmanagedArrayCodec<float>(),
        new UnmanagedArrayCodec<double>(), new UnmanagedArrayCodec<int>(), new UnmanagedArrayCodec<long>(),
        new UnmanagedArrayCodec<short>(), new UnmanagedArrayCodec<ushort>(), new UnmanagedArrayCodec<uint>(),
        new UnmanagedArrayCodec<ulong>(), new UnmanagedArrayCodec<sbyte>(),
    }.ToDictionary(c => c.Type);

    public static Codec Build(Type type, ConcurrentDictionary<Type, Codec> cache)
    {
        if (Primitives.TryGetValue(type, out var primitive)) return cache.GetOrAdd(type, primitive);
        var codec = Create(type);
        return cache.GetOrAdd(type, codec);
    }

    private static Codec Create(Type type)
    {
        if (type.IsEnum) return New(typeof(EnumCodec<>), [type]);
        if (Nullable.GetUnderlyingType(type) is { } underlying) return New(typeof(NullableCodec<>), [underlying], Codec.For(underlying));
        if (type.IsArray)
        {
            if (type.GetArrayRank() != 1) throw Unsupported(type, "only one-dimensional arrays travel");
            var element = type.GetElementType()!;
            return New(typeof(ArrayCodec<>), [element], Codec.For(element));
        }
        if (type.IsGenericType)
        {
            var definition = type.GetGenericTypeDefinition();
            var args = type.GetGenericArguments();
            if (definition == typeof(List<>) || definition == typeof(IList<>) || definition == typeof(IReadOnlyList<>) ||
                definition == typeof(ICollection<>) || definition == typeof(IReadOnlyCollection<>) || definition == typeof(IEnumerable<>))
                return Cast(type, New(typeof(ListCodec<>), args, Codec.For(args[0])));
            if (definition == typeof(HashSet<>) || definition == typeof(ISet<>) || definition == typeof(IReadOnlySet<>))
                return Cast(type, New(typeof(HashSetCodec<>), args, Codec.For(args[0])));
            if (definition == typeof(Dictionary<,>) || definition == typeof(IDictionary<,>) || definition == typeof(IReadOnlyDictionary<,>))
                return Cast(type, New(typeof(DictionaryCodec<,>), args, Codec.For(args[0]), Codec.For(args[1])));
        }
        if (type == typeof(object) || type.IsInterface || type.IsAbstract || type.IsPointer || type.IsByRef ||
            typeof(Delegate).IsAssignableFrom(type) || typeof(Exception).IsAssignableFrom(type) || typeof(Type).IsAssignableFrom(type) ||
            typeof(Task).IsAssignableFrom(type) || type.IsGenericTypeDefinition)
            throw Unsupported(type, "declare a concrete record, class, struct, primitive or collection instead");
        try
        {
            return New(typeof(ObjectCodec<>), [type]);
        }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is NotSupportedException inner)
        {
            throw inner;
        }
    }

    private static Codec Cast(Type declared, Codec inner) =>
        declared == inner.Type ? inner : New(typeof(CastCodec<,>), [declared, inner.Type], inner);

    private static Codec New(Type generic, Type[] args, params object[] ctorArgs) =>
        (Codec)Activator.CreateInstance(generic.MakeGenericType(args), ctorArgs)!;

    private static NotSupportedException Unsupported(Type type, string why) =>
        new($"type {type} cannot cross the wire: {why}");
}
