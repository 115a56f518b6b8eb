namespace RagCluster.Grains.Vectors;

/// <summary>How an index holds its vectors for the graph walk.</summary>
public enum VectorEncoding
{
    /// <summary>32-bit floats in memory: exact distances everywhere.</summary>
    Float32,
    /// <summary>
    /// One signed byte a dimension in memory, scaled per vector (its largest component maps to ±127): the graph is
    /// built and walked on these, a quarter of the bytes; the candidates a search ends with are rescored with the
    /// full-precision vectors, which live in a <see cref="FullPrecisionFile"/> outside the process's memory.
    /// </summary>
    Int8,
}

/// <summary>A collection's "quantization" setting, as the shards' graphs hold vectors.</summary>
public static class Quantizations
{
    public const string Float32 = "float32", Int8 = "int8";

    public static VectorEncoding Encoding(string? quantization) => Normalize(quantization) switch
    {
        Float32 => VectorEncoding.Float32,
        Int8 => VectorEncoding.Int8,
        _ => throw new RagCluster.Grains.Interfaces.Errors.InvalidRequestException($"quantization must be \"{Float32}\" or \"{Int8}\", not \"{quantization}\""),
    };

    public static string Name(VectorEncoding encoding) => encoding == VectorEncoding.Int8 ? Int8 : Float32;

    public static string Normalize(string? quantization) => quantization is null or "" or "none" ? Float32 : quantization;
}
