using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace RagCluster.Grains.Vectors;

// How a node's vector is held and compared: float32 rows, or int8 codes with a scale and the originals in a file.
public sealed unsafe partial class HnswIndex
{
    /// <summary>The node's vector at full precision (an int8 index reads it from its file): normalised for cosine, as sent otherwise.</summary>
    public ReadOnlySpan<float> Vector(int node)
    {
        if (!_int8) return new(VectorAt(node), Dimensions);
        var v = new float[Dimensions];
        _full!.Read(node, v);
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float* VectorAt(int node) => (float*)_vectorBlockAddresses[node >> BlockShift] + (node & (BlockNodes - 1)) * Dimensions;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private sbyte* CodeAt(int node) => (sbyte*)_codeBlockAddresses[node >> BlockShift] + (node & (BlockNodes - 1)) * Dimensions;

    // What the walk compares with: the node's floats, or its codes and their scale.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void* PointAt(int node) => _int8 ? CodeAt(node) : VectorAt(node);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float ScaleAt(int node) => _int8 || _l2 ? _scales[node] : 1f;

    /// <summary>Codes for a unit vector: its largest component becomes ±127; returns the scale back to floats.</summary>
    private static float Quantize(ReadOnlySpan<float> unit, Span<sbyte> codes)
    {
        var max = TensorPrimitives.MaxMagnitude(unit);
        var scale = Math.Abs(max) / 127f;
        if (scale == 0) { codes.Clear(); return 0; }
        for (var i = 0; i < unit.Length; i++) codes[i] = (sbyte)Math.Clamp(MathF.Round(unit[i] / scale), -127, 127);
        return scale;
    }

    // One branch on a field that never changes: the JIT keeps both paths tight, and the float path is as it was, with
    // one dot product inlined whatever the metric (l2's squared distance is |q|² + |x|² - 2q·x, qs being |q|²).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float Distance(void* q, float qs, int node)
    {
        if (_int8) return 1f - qs * _scales[node] * VectorMath.Dot((sbyte*)q, CodeAt(node), Dimensions);
        var dot = VectorMath.Dot((float*)q, VectorAt(node), Dimensions);
        return _l2 ? Math.Max(0f, qs + _scales[node] - 2f * dot) : 1f - dot;
    }

    // What a query vector becomes before the walk: scaled to length 1 for cosine, as sent otherwise; and for l2 its squared length.
    private float Prepare(Span<float> query)
    {
        if (_unit) Normalize(query);
        return _l2 ? TensorPrimitives.Dot<float>(query, query) : 1f;
    }

    // Ask for the first cache lines of a vector ahead of use: the graph walk is memory-bound once vectors
    // outgrow the cache (100k x 384 floats is 150 MB), and the hardware prefetcher cannot guess the next node.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Prefetch(int node)
    {
        if (!Sse.IsSupported) return;
        if (_int8)
        {
            // A code is a quarter of a vector (6 cache lines at 384-d): all of it is asked for, and its scale.
            var c = (byte*)CodeAt(node);
            for (var line = 0; line < Dimensions; line += 64) Sse.Prefetch0(c + line);
            fixed (float* s = &_scales[node]) Sse.Prefetch0(s);
            return;
        }
        var p = (byte*)VectorAt(node);
        Sse.Prefetch0(p);
        Sse.Prefetch0(p + 64);
    }

    public static void Normalize(Span<float> v)
    {
        var norm = TensorPrimitives.Norm(v);
        if (norm > 0 && Math.Abs(norm - 1f) > 1e-6f) TensorPrimitives.Divide(v, norm, v);
    }
}
