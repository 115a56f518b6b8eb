using System.Buffers.Binary;
using System.Text;

namespace RagCluster.Runtime.Serialization;

/// <summary>Bounds-checked decoder for <see cref="WireWriter"/> output. Every malformed input ends in <see cref="BadMessageException"/>.</summary>
public sealed class WireReader
{
    /// <summary>Deepest object nesting accepted, so hostile input cannot exhaust the stack.</summary>
    public const int MaxDepth = 64;

    private readonly ReadOnlyMemory<byte> _memory;
    private int _position;

    public WireReader(ReadOnlyMemory<byte> memory) => _memory = memory;

    public int Position => _position;
    public int Remaining => _memory.Length - _position;
    public int Depth { get; private set; }

    public void Enter()
    {
        if (++Depth > MaxDepth) throw new BadMessageException($"message nests deeper than {MaxDepth} levels");
    }

    public void Leave() => Depth--;

    public ReadOnlySpan<byte> ReadRaw(int count)
    {
        if (count < 0 || count > Remaining) throw Truncated();
        var span = _memory.Span.Slice(_position, count);
        _position += count;
        return span;
    }

    public ReadOnlyMemory<byte> ReadRawMemory(int count)
    {
        if (count < 0 || count > Remaining) throw Truncated();
        var memory = _memory.Slice(_position, count);
        _position += count;
        return memory;
    }

    public byte ReadByte()
    {
        if (Remaining < 1) throw Truncated();
        return _memory.Span[_position++];
    }

    public ulong ReadVarUInt()
    {
        ulong result = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            var b = ReadByte();
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new BadMessageException("malformed varint");
    }

    public long ReadVarInt()
    {
        var raw = ReadVarUInt();
        return (long)(raw >> 1) ^ -(long)(raw & 1);
    }

    public uint ReadFixed32() => BinaryPrimitives.ReadUInt32LittleEndian(ReadRaw(4));
    public ulong ReadFixed64() => BinaryPrimitives.ReadUInt64LittleEndian(ReadRaw(8));

    /// <summary>A length prefix, checked against what is left so a forged length cannot force a huge allocation.</summary>
    public int ReadLength(int minBytesPerItem = 1)
    {
        var value = ReadVarUInt();
        if (value > int.MaxValue || (long)value * Math.Max(1, minBytesPerItem) > Remaining)
            throw new BadMessageException($"length {value} exceeds the {Remaining} bytes left in the message");
        return (int)value;
    }

    public byte[] ReadBytes() => ReadRaw(ReadLength()).ToArray();

    public string ReadString()
    {
        var span = ReadRaw(ReadLength());
        try
        {
            return StrictUtf8.GetString(span);
        }
        catch (DecoderFallbackException)
        {
            throw new BadMessageException("string is not valid UTF-8");
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private BadMessageException Truncated() => new($"message truncated at byte {_position} of {_memory.Length}");
}
