using System.Collections.Concurrent;

namespace RagCluster.Runtime.Serialization;

/// <summary>Encodes one CLR type. Both ends know the declared type from the grain interface, so no type tags travel.</summary>
public abstract class Codec
{
    public abstract Type Type { get; }
    public abstract void WriteObject(WireWriter writer, object? value);
    public abstract object? ReadObject(WireReader reader);

    private static readonly ConcurrentDictionary<Type, Codec> Cache = new();

    /// <summary>The codec for <paramref name="type"/>; throws <see cref="NotSupportedException"/> naming the type when it cannot travel.</summary>
    public static Codec For(Type type) => Cache.TryGetValue(type, out var codec) ? codec : CodecBuilder.Build(type, Cache);

    public static Codec<T> For<T>() => (Codec<T>)For(typeof(T));
}

public abstract class Codec<T> : Codec
{
    public sealed override Type Type => typeof(T);
    public abstract void Write(WireWriter writer, T value);
    public abstract T Read(WireReader reader);
    public sealed override void WriteObject(WireWriter writer, object? value) => Write(writer, (T)value!);
    public sealed override object? ReadObject(WireReader reader) => Read(reader);
}

/// <summary>Entry points for whole values.</summary>
public static class BinarySerializer
{
    public static byte[] Serialize<T>(T value)
    {
        var writer = new WireWriter();
        Codec.For<T>().Write(writer, value);
        return writer.ToArray();
    }

    public static T Deserialize<T>(ReadOnlyMemory<byte> bytes)
    {
        var reader = new WireReader(bytes);
        var value = Codec.For<T>().Read(reader);
        if (reader.Remaining != 0) throw new BadMessageException($"{reader.Remaining} unexpected bytes after the value");
        return value;
    }
}
