using System.Runtime.Intrinsics.X86;
using Google.Protobuf;
using Onnx;

namespace RagCluster.Grains.Embedding.Onnx;

/// <summary>
/// A model's matrix products with int8 weights, made when a session loads: each MatMul by a constant float32 matrix
/// becomes ONNX Runtime's DynamicQuantizeMatMul (com.microsoft), which quantises its input per inference and multiplies
/// in integers. Written here because ONNX Runtime's own quantiser is Python only. Weights are quantised per output
/// column, symmetric, so a column's scale is its largest magnitude over 127.
/// On arctic-embed-xs (2 cores): about twice the speed of float32 for one sequence, query vectors at cosine 0.997 or
/// more to float32's (bench/results, issue 45 item 6).
/// </summary>
public static class Int8Weights
{
    private const string MicrosoftDomain = "com.microsoft";

    /// <summary>The model with int8 weights, signed or not, and how many products changed (0: the model is returned as it was).</summary>
    public static (byte[] Model, int Quantized) Quantize(byte[] model, bool signed) =>
        Quantize(ModelProto.Parser.ParseFrom(model), signed) is var (bytes, quantized) && quantized > 0 ? (bytes!, quantized) : (model, 0);

    /// <summary>
    /// The model file with int8 weights and how many products changed (null and 0: none did), parsed as it is read: no
    /// copy of the whole file is held beside the parsed model (90 MB of the built-in model's load).
    /// Signed weights where the CPU multiplies unsigned by signed bytes without overflow (VNNI); elsewhere unsigned
    /// weights around 128, since the AVX2 kernel for signed weights can saturate a 16-bit sum (ONNX Runtime's
    /// quantisation guide).
    /// </summary>
    public static (byte[]? Model, int Quantized) QuantizeFile(string path)
    {
        using var file = File.OpenRead(path);
        return Quantize(ModelProto.Parser.ParseFrom(file), HasVnni());
    }

    private static (byte[]? Model, int Quantized) Quantize(ModelProto proto, bool signed)
    {
        var graph = proto.Graph;
        var weights = graph.Initializer.ToDictionary(t => t.Name);
        // A weight another node reads as float stays as it is.
        var readers = graph.Node.SelectMany(n => n.Input).GroupBy(i => i).ToDictionary(g => g.Key, g => g.Count());
        var replaced = new HashSet<string>();
        var quantized = 0;
        for (var i = 0; i < graph.Node.Count; i++)
        {
            var node = graph.Node[i];
            if (node.OpType != "MatMul" || node.Domain is not ("" or "ai.onnx") || node.Input.Count != 2
                || !weights.TryGetValue(node.Input[1], out var weight) || readers[weight.Name] != 1
                || weight.DataType != (int)TensorProto.Types.DataType.Float || weight.Dims.Count != 2) continue;
            var (values, scales, zero) = QuantizeColumns(FloatValues(weight), (int)weight.Dims[0], (int)weight.Dims[1], signed);
            var name = weight.Name;
            graph.Initializer.Add(Tensor($"{name}_int8", signed ? TensorProto.Types.DataType.Int8 : TensorProto.Types.DataType.Uint8, weight.Dims, values));
            graph.Initializer.Add(new TensorProto { Name = $"{name}_scale", DataType = (int)TensorProto.Types.DataType.Float, Dims = { weight.Dims[1] }, FloatData = { scales } });
            graph.Initializer.Add(Tensor($"{name}_zero", signed ? TensorProto.Types.DataType.Int8 : TensorProto.Types.DataType.Uint8, [weight.Dims[1]],
                Enumerable.Repeat(zero, (int)weight.Dims[1]).ToArray()));
            var product = new NodeProto { Name = node.Name + "_int8", OpType = "DynamicQuantizeMatMul", Domain = MicrosoftDomain };
            product.Input.Add([node.Input[0], $"{name}_int8", $"{name}_scale", $"{name}_zero"]);
            product.Output.Add(node.Output);
            graph.Node[i] = product;
            replaced.Add(name);
            quantized++;
        }
        if (quantized == 0) return (null, 0);
        foreach (var old in graph.Initializer.Where(t => replaced.Contains(t.Name)).ToList()) graph.Initializer.Remove(old);
        if (!proto.OpsetImport.Any(o => o.Domain == MicrosoftDomain)) proto.OpsetImport.Add(new OperatorSetIdProto { Domain = MicrosoftDomain, Version = 1 });
        return (proto.ToByteArray(), quantized);
    }

    /// <summary>Each column's bytes, its scale, and the zero point (0 signed, 128 unsigned), from a row-major [rows, columns] matrix.</summary>
    private static (byte[] Values, float[] Scales, byte Zero) QuantizeColumns(float[] matrix, int rows, int columns, bool signed)
    {
        var scales = new float[columns];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < columns; c++)
                scales[c] = Math.Max(scales[c], Math.Abs(matrix[r * columns + c]));
        for (var c = 0; c < columns; c++) scales[c] = scales[c] > 0 ? scales[c] / 127f : 1f;
        var zero = signed ? (byte)0 : (byte)128;
        var values = new byte[matrix.Length];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < columns; c++)
            {
                var q = (int)Math.Clamp(MathF.Round(matrix[r * columns + c] / scales[c]), -127, 127);
                values[r * columns + c] = signed ? (byte)(sbyte)q : (byte)(q + 128);
            }
        return (values, scales, zero);
    }

    private static float[] FloatValues(TensorProto tensor)
    {
        if (tensor.FloatData.Count > 0) return [.. tensor.FloatData];
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
            throw new InvalidDataException($"weight '{tensor.Name}' is stored outside the model file; int8 weights need it inside");
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray(); // ONNX stores raw data little-endian, as x64 is
    }

    private static TensorProto Tensor(string name, TensorProto.Types.DataType type, IEnumerable<long> dims, byte[] values) =>
        new() { Name = name, DataType = (int)type, Dims = { dims }, RawData = ByteString.CopyFrom(values) };

    /// <summary>AVX512-VNNI (CPUID leaf 7, ECX bit 11) or AVX-VNNI (leaf 7 sub-leaf 1, EAX bit 4).</summary>
    private static bool HasVnni()
    {
        if (!X86Base.IsSupported) return false; // not x86: unsigned weights, which every kernel multiplies exactly
        var (_, _, ecx, _) = X86Base.CpuId(7, 0);
        var (eax1, _, _, _) = X86Base.CpuId(7, 1);
        return (ecx & (1 << 11)) != 0 || (eax1 & (1 << 4)) != 0;
    }
}
