using System.Numerics.Tensors;
namespace RagCluster.Grains.Vectors;

/// <summary>How a collection's vectors are compared (its "distance" setting), as Chroma's cosine, ip and l2 spaces.</summary>
public enum VectorMetric
{
    /// <summary>Cosine similarity: vectors are scaled to length 1 as they arrive; score = similarity, distance = 1 - it.</summary>
    Cosine,
    /// <summary>Inner product of the vectors as sent (not scaled): score = the product, distance = 1 - it (hnswlib's ip).</summary>
    Dot,
    /// <summary>Euclidean: vectors as sent; the walk compares squared distances, a hit scores minus the distance (higher is nearer).</summary>
    L2,
}

/// <summary>A collection's "distance" setting by name.</summary>
public static class VectorMetrics
{
    public const string Cosine = "cosine", Dot = "dot", L2 = "l2";

    public static VectorMetric Parse(string? distance) => distance switch
    {
        null or "" or Cosine => VectorMetric.Cosine,
        Dot => VectorMetric.Dot,
        L2 => VectorMetric.L2,
        _ => throw new RagCluster.Grains.Interfaces.Errors.InvalidRequestException($"distance must be \"{Cosine}\" (the default), \"{Dot}\" or \"{L2}\", not \"{distance}\""),
    };

    public static string Name(VectorMetric metric) => metric switch { VectorMetric.Dot => Dot, VectorMetric.L2 => L2, _ => Cosine };

    /// <summary>As a collection of that distance compares it: scaled to length 1 for cosine (below), as sent for dot and l2.</summary>
    public static float[] Prepared(float[] vector, string? distance) => Parse(distance) == VectorMetric.Cosine ? Normalized(vector) : vector;

    /// <summary>Scaled to length 1: shards compare by dot product, which is cosine for unit vectors (ours are unit too).</summary>
    public static float[] Normalized(float[] vector)
    {
        var result = new float[vector.Length];
        TensorPrimitives.Divide(vector, TensorPrimitives.Norm(vector), result);
        return result;
    }
}
