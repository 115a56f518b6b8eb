namespace RagCluster.Runtime.Serialization;

// Collections write length+1 (0 = null) and then their items with the item codec.

internal sealed class ArrayCodec<T>(Codec<T> item) : Codec<T[]>
{
    public override void Write(WireWriter w, T[] v)
    {
        if (v is null) { w.WriteByte(0); return; }
        w.WriteVarUInt((ulong)v.Length + 1);
        foreach (var x in v) item.Write(w, x);
    }

    public override T[] Read(WireReader r)
    {
        if (CollectionLength.Read(r) is not int length) return null!;
        var result = new T[length];
        for (var i = 0; i < length; i++) result[i] = item.Read(r);
        return result;
    }
}

internal sealed class ListCodec<T>(Codec<T> item) : Codec<IEnumerable<T>>
{
    public override void Write(WireWriter w, IEnumerable<T> v)
    {
        if (v is null) { w.WriteByte(0); return; }
        var list = v as IReadOnlyCollection<T> ?? v.ToList();
        w.WriteVarUInt((ulong)list.Count + 1);
        foreach (var x in list) item.Write(w, x);
    }

    public override IEnumerable<T> Read(WireReader r)
    {
        if (CollectionLength.Read(r) is not int length) return null!;
        var result = new List<T>(length);
        for (var i = 0; i < length; i++) result.Add(item.Read(r));
        return result;
    }
}

internal sealed class HashSetCodec<T>(Codec<T> item) : Codec<IEnumerable<T>>
{
    public override void Write(WireWriter w, IEnumerable<T> v)
    {
        if (v is null) { w.WriteByte(0); return; }
        var set = v as IReadOnlyCollection<T> ?? v.ToList();
        w.WriteVarUInt((ulong)set.Count + 1);
        foreach (var x in set) item.Write(w, x);
    }

    public override IEnumerable<T> Read(WireReader r)
    {
        if (CollectionLength.Read(r) is not int length) return null!;
        var result = new HashSet<T>(length);
        for (var i = 0; i < length; i++) result.Add(item.Read(r));
        return result;
    }
}

internal sealed class DictionaryCodec<TKey, TValue>(Codec<TKey> key, Codec<TValue> value) : Codec<IEnumerable<KeyValuePair<TKey, TValue>>>
    where TKey : notnull
{
    public override void Write(WireWriter w, IEnumerable<KeyValuePair<TKey, TValue>> v)
    {
        if (v is null) { w.WriteByte(0); return; }
        var pairs = v as IReadOnlyCollection<KeyValuePair<TKey, TValue>> ?? v.ToList();
        w.WriteVarUInt((ulong)pairs.Count + 1);
        foreach (var (k, x) in pairs)
        {
            key.Write(w, k);
            value.Write(w, x);
        }
    }

    public override IEnumerable<KeyValuePair<TKey, TValue>> Read(WireReader r)
    {
        if (CollectionLength.Read(r) is not int length) return null!;
        var result = new Dictionary<TKey, TValue>(length);
        for (var i = 0; i < length; i++)
        {
            var k = key.Read(r) ?? throw new BadMessageException("dictionary key is null");
            if (!result.TryAdd(k, value.Read(r))) throw new BadMessageException("duplicate dictionary key");
        }
        return result;
    }
}

/// <summary>Adapts a codec of a base shape (IEnumerable) to the declared type (List, IReadOnlyList, Dictionary...).</summary>
internal sealed class CastCodec<TDeclared, TInner>(Codec<TInner> inner) : Codec<TDeclared>
{
    public override void Write(WireWriter w, TDeclared v) => inner.Write(w, (TInner)(object)v!);
    public override TDeclared Read(WireReader r) => (TDeclared)(object)inner.Read(r)!;
}

internal static class CollectionLength
{
    /// <summary>Null for a null collection; otherwise the count, checked against the bytes left (each item takes at least one).</summary>
    public static int? Read(WireReader r)
    {
        var lengthPlusOne = r.ReadVarUInt();
        if (lengthPlusOne == 0) return null;
        var length = lengthPlusOne - 1;
        if (length > (ulong)r.Remaining) throw new BadMessageException($"collection of {length} items exceeds the message");
        return (int)length;
    }
}
