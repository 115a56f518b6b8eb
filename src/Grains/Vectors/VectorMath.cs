using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RagCluster.Grains.Vectors;

/// <summary>
/// The dot product the HNSW walk spends most of its time in. Written by hand because TensorPrimitives.Dot is a
/// general aggregate (alignment and remainder handling on every call); for embedding-sized vectors this loop with
/// independent accumulators measured faster (see bench/results, issue 11).
/// </summary>
internal static unsafe class VectorMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(float* a, float* b, int n)
    {
        var i = 0;
        var sum = 0f;
        if (Vector512.IsHardwareAccelerated && n >= 32)
        {
            var s0 = Vector512<float>.Zero;
            var s1 = Vector512<float>.Zero;
            for (; i <= n - 32; i += 32)
            {
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), s0);
                s1 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 16), Vector512.Load(b + i + 16), s1);
            }
            sum = Vector512.Sum(s0 + s1);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 32)
        {
            var s0 = Vector256<float>.Zero;
            var s1 = Vector256<float>.Zero;
            var s2 = Vector256<float>.Zero;
            var s3 = Vector256<float>.Zero;
            for (; i <= n - 32; i += 32)
            {
                s0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), s0);
                s1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), s1);
                s2 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 16), Vector256.Load(b + i + 16), s2);
                s3 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 24), Vector256.Load(b + i + 24), s3);
            }
            sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        }
        if (i < n) sum += TensorPrimitives.Dot(new ReadOnlySpan<float>(a + i, n - i), new ReadOnlySpan<float>(b + i, n - i));
        return sum;
    }

    /// <summary>
    /// The dot product of two int8 codes, exact in int32 (384 dimensions of ±127 stay far below 2^31). Bytes are
    /// widened to 16 bits and multiplied pairwise into 32-bit sums (vpmaddwd): with AVX-512, 32 bytes widen in one
    /// instruction straight from memory (vpmovsxbw), 64 dimensions a step; with AVX2, 32 a step.
    /// </summary>
    public static int Dot(ReadOnlySpan<sbyte> a, ReadOnlySpan<sbyte> b)
    {
        if (a.Length != b.Length) throw new ArgumentException("codes differ in length");
        fixed (sbyte* pa = a, pb = b) return Dot(pa, pb, a.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Dot(sbyte* a, sbyte* b, int n)
    {
        var i = 0;
        var sum = 0;
        if (Avx512BW.IsSupported && n >= 32)
        {
            var s0 = Vector512<int>.Zero;
            var s1 = Vector512<int>.Zero;
            for (; i <= n - 64; i += 64)
            {
                s0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Vector256.Load(a + i)), Avx512BW.ConvertToVector512Int16(Vector256.Load(b + i)));
                s1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Vector256.Load(a + i + 32)), Avx512BW.ConvertToVector512Int16(Vector256.Load(b + i + 32)));
            }
            if (i <= n - 32)
            {
                s0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Vector256.Load(a + i)), Avx512BW.ConvertToVector512Int16(Vector256.Load(b + i)));
                i += 32;
            }
            sum = Vector512.Sum(s0 + s1);
        }
        else if (Avx2.IsSupported && n >= 32)
        {
            var s0 = Vector256<int>.Zero;
            var s1 = Vector256<int>.Zero;
            for (; i <= n - 32; i += 32)
            {
                var (aLow, aHigh) = Vector256.Widen(Vector256.Load(a + i));
                var (bLow, bHigh) = Vector256.Widen(Vector256.Load(b + i));
                s0 = Avx2.Add(s0, Avx2.MultiplyAddAdjacent(aLow, bLow));
                s1 = Avx2.Add(s1, Avx2.MultiplyAddAdjacent(aHigh, bHigh));
            }
            sum = Vector256.Sum(s0 + s1);
        }
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }
}
