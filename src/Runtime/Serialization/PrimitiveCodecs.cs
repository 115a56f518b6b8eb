using System.Runtime.InteropServices;

namespace RagCluster.Runtime.Serialization;

internal sealed class BoolCodec : Codec<bool>
{
    public override void Write(WireWriter w, bool v) => w.WriteByte(v ? (byte)1 : (byte)0);
    public override bool Read(WireReader r) => r.ReadByte() switch
    {
        0 => false,
        1 => true,
        var b => throw new BadMessageException($"invalid boolean byte {b}"),
    };
}

internal sealed class ByteCodec : Codec<byte>
{
    public override void Write(WireWriter w, byte v) => w.WriteByte(v);
    public override byte Read(WireReader r) => r.ReadByte();
}

internal sealed class SByteCodec : Codec<sbyte>
{
    public override void Write(WireWriter w, sbyte v) => w.WriteByte((byte)v);
    public override sbyte Read(WireReader r) => (sbyte)r.ReadByte();
}

internal sealed class Int16Codec : Codec<short>
{
    public override void Write(WireWriter w, short v) => w.WriteVarInt(v);
    public override short Read(WireReader r) => checked((short)r.ReadVarInt());
}

internal sealed class UInt16Codec : Codec<ushort>
{
    public override void Write(WireWriter w, ushort v) => w.WriteVarUInt(v);
    public override ushort Read(WireReader r) => checked((ushort)r.ReadVarUInt());
}

internal sealed class Int32Codec : Codec<int>
{
    public override void Write(WireWriter w, int v) => w.WriteVarInt(v);
    public override int Read(WireReader r) => checked((int)r.ReadVarInt());
}

internal sealed class UInt32Codec : Codec<uint>
{
    public override void Write(WireWriter w, uint v) => w.WriteVarUInt(v);
    public override uint Read(WireReader r) => checked((uint)r.ReadVarUInt());
}

internal sealed class Int64Codec : Codec<long>
{
    public override void Write(WireWriter w, long v) => w.WriteVarInt(v);
    public override long Read(WireReader r) => r.ReadVarInt();
}

internal sealed class UInt64Codec : Codec<ulong>
{
    public override void Write(WireWriter w, ulong v) => w.WriteVarUInt(v);
    public override ulong Read(WireReader r) => r.ReadVarUInt();
}

internal sealed class CharCodec : Codec<char>
{
    public override void Write(WireWriter w, char v) => w.WriteVarUInt(v);
    public override char Read(WireReader r) => checked((char)r.ReadVarUInt());
}

internal sealed class SingleCodec : Codec<float>
{
    public override void Write(WireWriter w, float v) => w.WriteFixed32(BitConverter.SingleToUInt32Bits(v));
    public override float Read(WireReader r) => BitConverter.UInt32BitsToSingle(r.ReadFixed32());
}

internal sealed class DoubleCodec : Codec<double>
{
    public override void Write(WireWriter w, double v) => w.WriteFixed64(BitConverter.DoubleToUInt64Bits(v));
    public override double Read(WireReader r) => BitConverter.UInt64BitsToDouble(r.ReadFixed64());
}

internal sealed class DecimalCodec : Codec<decimal>
{
    public override void Write(WireWriter w, decimal v)
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(v, bits);
        foreach (var b in bits) w.WriteFixed32((uint)b);
    }

    public override decimal Read(WireReader r)
    {
        Span<int> bits = stackalloc int[4];
        for (var i = 0; i < 4; i++) bits[i] = (int)r.ReadFixed32();
        try { return new decimal(bits); }
        catch (ArgumentException) { throw new BadMessageException("invalid decimal"); }
    }
}

internal sealed class StringCodec : Codec<string>
{
    // 0 = null, otherwise length+1 followed by UTF-8.
    public override void Write(WireWriter w, string v)
    {
        if (v is null) { w.WriteByte(0); return; }
        w.WriteByte(1);
        w.WriteString(v);
    }

    public override string Read(WireReader r) => r.ReadByte() switch
    {
        0 => null!,
        1 => r.ReadString(),
        var b => throw new BadMessageException($"invalid string marker {b}"),
    };
}

internal sealed class GuidCodec : Codec<Guid>
{
    public override void Write(WireWriter w, Guid v)
    {
        v.TryWriteBytes(w.GetSpan(16));
        w.Advance(16);
    }

    public override Guid Read(WireReader r) => new(r.ReadRaw(16));
}

internal sealed class DateTimeCodec : Codec<DateTime>
{
    public override void Write(WireWriter w, DateTime v) => w.WriteFixed64((ulong)v.ToBinary());
    public override DateTime Read(WireReader r)
    {
        try { return DateTime.FromBinary((long)r.ReadFixed64()); }
        catch (ArgumentException) { throw new BadMessageException("invalid DateTime"); }
    }
}

internal sealed class DateTimeOffsetCodec : Codec<DateTimeOffset>
{
    public override void Write(WireWriter w, DateTimeOffset v)
    {
        w.WriteVarInt(v.UtcTicks);
        w.WriteVarInt((long)v.Offset.TotalMinutes);
    }

    public override DateTimeOffset Read(WireReader r)
    {
        var ticks = r.ReadVarInt();
        var minutes = r.ReadVarInt();
        try { return new DateTimeOffset(ticks, TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(minutes)); }
        catch (ArgumentException) { throw new BadMessageException("invalid DateTimeOffset"); }
    }
}

internal sealed class TimeSpanCodec : Codec<TimeSpan>
{
    public override void Write(WireWriter w, TimeSpan v) => w.WriteVarInt(v.Ticks);
    public override TimeSpan Read(WireReader r) => new(r.ReadVarInt());
}

/// <summary>Arrays of blittable primitives (vectors, bytes) travel as one block copy.</summary>
internal sealed class UnmanagedArrayCodec<T> : Codec<T[]> where T : unmanaged
{
    public override void Write(WireWriter w, T[] v)
    {
        if (v is null) { w.WriteByte(0); return; }
        w.WriteVarUInt((ulong)v.Length + 1);
        w.WriteRaw(MemoryMarshal.AsBytes(v.AsSpan()));
    }

    public override T[] Read(WireReader r)
    {
        var lengthPlusOne = r.ReadVarUInt();
        if (lengthPlusOne == 0) return null!;
        var size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        var length = lengthPlusOne - 1;
        if (length > (ulong)(r.Remaining / size)) throw new BadMessageException($"array of {length} items exceeds the message");
        var result = new T[length];
        r.ReadRaw((int)length * size).CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }
}

internal sealed class EnumCodec<T> : Codec<T> where T : struct, Enum
{
    public override void Write(WireWriter w, T v) => w.WriteVarInt(Convert.ToInt64(v));
    public override T Read(WireReader r) => (T)Enum.ToObject(typeof(T), r.ReadVarInt());
}

internal sealed class NullableCodec<T>(Codec<T> inner) : Codec<T?> where T : struct
{
    public override void Write(WireWriter w, T? v)
    {
        if (v is null) { w.WriteByte(0); return; }
        w.WriteByte(1);
        inner.Write(w, v.Value);
    }

    public override T? Read(WireReader r) => r.ReadByte() switch
    {
        0 => null,
        1 => inner.Read(r),
        var b => throw new BadMessageException($"invalid nullable marker {b}"),
    };
}
