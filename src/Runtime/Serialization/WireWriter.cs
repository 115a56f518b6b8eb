using System.Buffers.Binary;
using System.Text;

namespace RagCluster.Runtime.Serialization;

/// <summary>Growable little-endian buffer with LEB128 varints; the only encoder of the wire format.</summary>
public sealed class WireWriter
{
    private byte[] _buffer;
    private int _position;

    public WireWriter(int initialCapacity = 256) => _buffer = new byte[Math.Max(16, initialCapacity)];

    public int Length => _position;
    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _position);
    public byte[] ToArray() => _buffer.AsSpan(0, _position).ToArray();

    public Span<byte> GetSpan(int size)
    {
        if (_position + size > _buffer.Length)
        {
            var next = new byte[Math.Max(_buffer.Length * 2, _position + size)];
            _buffer.AsSpan(0, _position).CopyTo(next);
            _buffer = next;
        }
        return _buffer.AsSpan(_position, size);
    }

    public void Advance(int count) => _position += count;

    public void WriteByte(byte value)
    {
        GetSpan(1)[0] = value;
        _position++;
    }

    public void WriteVarUInt(ulong value)
    {
        var span = GetSpan(10);
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[i++] = (byte)value;
        _position += i;
    }

    /// <summary>Zig-zag so small negative numbers stay short.</summary>
    public void WriteVarInt(long value) => WriteVarUInt((ulong)((value << 1) ^ (value >> 63)));

    public void WriteFixed32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(GetSpan(4), value);
        _position += 4;
    }

    public void WriteFixed64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(GetSpan(8), value);
        _position += 8;
    }

    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        _position += bytes.Length;
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        WriteVarUInt((ulong)bytes.Length);
        WriteRaw(bytes);
    }

    public void WriteString(string value)
    {
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max <= 127)
        {
            // Short strings: length fits in one varint byte, encode in place.
            var span = GetSpan(1 + max);
            var written = Encoding.UTF8.GetBytes(value, span[1..]);
            span[0] = (byte)written;
            _position += 1 + written;
            return;
        }
        var count = Encoding.UTF8.GetByteCount(value);
        WriteVarUInt((ulong)count);
        Encoding.UTF8.GetBytes(value, GetSpan(count));
        _position += count;
    }
}
