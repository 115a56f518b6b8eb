namespace RagCluster.Grains.Embedding.Onnx;

/// <summary>
/// A model file's bytes as sessions are made from them (int8 weights, pooling added), computed once for all the
/// sessions a silo makes of it: the passages' and the queries' sessions each read, quantised and extended the file
/// anew, twice the start's work and twice its large garbage (issue 73, items 2 and 3).
/// </summary>
internal sealed class ModelBytes(string path)
{
    private (byte[]? Model, int Products)? _int8;
    private readonly Dictionary<(bool Int8, bool Cls, bool Normalize), byte[]?> _pooled = [];

    public string Path => path;

    /// <summary>The model with int8 weights in its matrix products, and how many; null and 0 when it has none to give.</summary>
    public (byte[]? Model, int Products) Int8()
    {
        _int8 ??= Int8Weights.QuantizeFile(path);
        return _int8.Value;
    }

    /// <summary>The model (with int8 weights, or the file's) with pooling added; null where it cannot be added.</summary>
    public byte[]? Pooled(bool int8, bool clsPooling, bool normalize)
    {
        var key = (int8, clsPooling, normalize);
        if (!_pooled.TryGetValue(key, out var bytes))
            _pooled[key] = bytes = int8 && Int8().Model is { } quantized ? PooledOutput.Load(quantized, clsPooling, normalize) : PooledOutput.Load(path, clsPooling, normalize);
        return bytes;
    }
}
