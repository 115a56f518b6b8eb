using Google.Protobuf;

namespace RagCluster.Grains.Embedding.Onnx;

/// <summary>
/// Adds pooling (mean over the attention mask, or the [CLS] row) and L2 normalisation to a sentence encoder's graph as
/// one more output, so a session returns [batch, hidden] and the token states stay where they were computed: on a GPU
/// they never cross to the host (25 MB at batch 128 × 128 tokens, against 196 KB pooled).
/// An ONNX file is a serialised ModelProto, and protobuf merges concatenated messages (repeated fields append), so the
/// addition is only the bytes of the new nodes, constants and output, written with Google.Protobuf's wire format.
/// </summary>
public static class PooledOutput
{
    /// <summary>The added output: [batch, hidden] float.</summary>
    public const string Name = "ragcluster_pooled";
    private const string Prefix = "ragcluster_pool/";

    // Field numbers and enum values of onnx.proto (onnx/onnx, stable since IR version 3).
    private const int ModelGraph = 7, ModelOpsetImport = 8;
    private const int OpsetDomain = 1, OpsetVersion = 2;
    private const int GraphNode = 1, GraphInitializer = 5, GraphOutput = 12;
    private const int NodeInput = 1, NodeOutput = 2, NodeName = 3, NodeOpType = 4, NodeAttribute = 5;
    private const int AttributeName = 1, AttributeInt = 3, AttributeInts = 8, AttributeType = 20, AttributeTypeInt = 2, AttributeTypeInts = 7;
    private const int TensorDims = 1, TensorDataType = 2, TensorFloatData = 4, TensorInt64Data = 7, TensorName = 8;
    private const int ValueInfoName = 1, ValueInfoType = 2, TypeTensor = 1, TensorTypeElemType = 1;
    private const int Float = 1, Int64 = 7;

    /// <summary>
    /// The model file's bytes with <see cref="Name"/> added, computed from its token states ([batch, seq, hidden]) and
    /// its attention_mask input; null when the model has no token-state output (it pools itself) or imports an opset
    /// older than 11.
    /// </summary>
    public static byte[]? Load(string modelPath, bool clsPooling, bool normalize)
    {
        long opset;
        string? tokenStates;
        using (var file = File.OpenRead(modelPath)) (opset, tokenStates) = Inspect(new CodedInputStream(file));
        if (opset < 11 || tokenStates is null) return null;
        var addition = Addition(tokenStates, clsPooling, normalize, opset);
        // One array, the file then the addition: a model is 90 MB, and a second copy would stay in the large-object heap.
        using var stream = File.OpenRead(modelPath);
        var bytes = new byte[stream.Length + addition.Length];
        stream.ReadExactly(bytes, 0, (int)stream.Length);
        addition.CopyTo(bytes, (int)stream.Length);
        return bytes;
    }

    /// <summary>The same for a model already in memory (one given int8 weights, say).</summary>
    public static byte[]? Load(byte[] model, bool clsPooling, bool normalize)
    {
        var (opset, tokenStates) = Inspect(new CodedInputStream(model));
        return opset < 11 || tokenStates is null ? null : [.. model, .. Addition(tokenStates, clsPooling, normalize, opset)];
    }

    /// <summary>The default-domain opset the model imports and its token-state output, read without loading the weights.</summary>
    public static (long Opset, string? TokenStates) Inspect(CodedInputStream model)
    {
        long opset = 0;
        var outputs = new List<string>();
        uint tag;
        while ((tag = model.ReadTag()) != 0)
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case ModelOpsetImport:
                    var (domain, version) = ReadOpset(new CodedInputStream(model.ReadBytes().ToByteArray()));
                    if (domain is "" or "ai.onnx") opset = version;
                    break;
                case ModelGraph:
                    var end = model.Position + model.ReadLength();
                    while (model.Position < end)
                    {
                        var field = WireFormat.GetTagFieldNumber(model.ReadTag());
                        if (field == GraphOutput) outputs.Add(ReadName(new CodedInputStream(model.ReadBytes().ToByteArray())));
                        else model.SkipLastField();
                    }
                    break;
                default:
                    model.SkipLastField();
                    break;
            }
        var tokenStates = outputs.Contains("sentence_embedding") ? null
            : outputs.FirstOrDefault(o => o is "last_hidden_state" or "token_embeddings");
        return (opset, tokenStates);
    }

    private static (string Domain, long Version) ReadOpset(CodedInputStream opset)
    {
        var (domain, version) = ("", 0L);
        uint tag;
        while ((tag = opset.ReadTag()) != 0)
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case OpsetDomain: domain = opset.ReadString(); break;
                case OpsetVersion: version = opset.ReadInt64(); break;
                default: opset.SkipLastField(); break;
            }
        return (domain, version);
    }

    private static string ReadName(CodedInputStream valueInfo)
    {
        uint tag;
        while ((tag = valueInfo.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == ValueInfoName) return valueInfo.ReadString();
            valueInfo.SkipLastField();
        }
        return "";
    }

    /// <summary>A ModelProto holding only the new nodes, constants and output, to be merged after the model's own bytes.</summary>
    private static byte[] Addition(string tokenStates, bool clsPooling, bool normalize, long opset)
    {
        // Opset 13 moved Unsqueeze's and ReduceSum's axes from an attribute to an input.
        var axesAsInput = opset >= 13;
        byte[] Unsqueeze(string x, string output) => axesAsInput
            ? Node("Unsqueeze", [x, Prefix + "axis2"], output)
            : Node("Unsqueeze", [x], output, ints: ("axes", 2));
        byte[] SumOverAxis1(string x, string output, int keepDims) => axesAsInput
            ? Node("ReduceSum", [x, Prefix + "axis1"], output, ("keepdims", keepDims))
            : Node("ReduceSum", [x], output, ints: ("axes", 1), ("keepdims", keepDims));
        var nodes = new List<byte[]>();
        var pooled = Prefix + "pooled";
        if (clsPooling)
        {
            nodes.Add(Node("Gather", [tokenStates, Prefix + "zero"], pooled, ("axis", 1)));
        }
        else
        {
            nodes.Add(Node("Cast", ["attention_mask"], Prefix + "mask", ("to", Float)));
            nodes.Add(Unsqueeze(Prefix + "mask", Prefix + "mask3"));
            nodes.Add(Node("Mul", [tokenStates, Prefix + "mask3"], Prefix + "masked"));
            nodes.Add(SumOverAxis1(Prefix + "masked", Prefix + "sum", 0));
            nodes.Add(SumOverAxis1(Prefix + "mask3", Prefix + "count", 0));
            nodes.Add(Node("Max", [Prefix + "count", Prefix + "one"], Prefix + "count1"));
            nodes.Add(Node("Div", [Prefix + "sum", Prefix + "count1"], pooled));
        }
        if (normalize)
        {
            nodes.Add(Node("Mul", [pooled, pooled], Prefix + "squares"));
            nodes.Add(SumOverAxis1(Prefix + "squares", Prefix + "sumsq", 1));
            nodes.Add(Node("Sqrt", [Prefix + "sumsq"], Prefix + "norm"));
            nodes.Add(Node("Max", [Prefix + "norm", Prefix + "epsilon"], Prefix + "norm1"));
            nodes.Add(Node("Div", [pooled, Prefix + "norm1"], Name));
        }
        else
        {
            nodes.Add(Node("Identity", [pooled], Name));
        }

        var graph = Message(o =>
        {
            foreach (var node in nodes) WriteMessage(o, GraphNode, node);
            // Only the constants the nodes use: ONNX Runtime warns about each unused one.
            if (clsPooling) WriteMessage(o, GraphInitializer, Int64Tensor(Prefix + "zero", [], 0));
            else WriteMessage(o, GraphInitializer, FloatTensor(Prefix + "one", 1f));
            if (axesAsInput && (!clsPooling || normalize)) WriteMessage(o, GraphInitializer, Int64Tensor(Prefix + "axis1", [1], 1));
            if (axesAsInput && !clsPooling) WriteMessage(o, GraphInitializer, Int64Tensor(Prefix + "axis2", [1], 2));
            if (normalize) WriteMessage(o, GraphInitializer, FloatTensor(Prefix + "epsilon", 1e-12f));
            WriteMessage(o, GraphOutput, FloatOutput(Name));
        });
        return Message(o => WriteMessage(o, ModelGraph, graph));
    }

    private static byte[] Node(string op, string[] inputs, string output, params (string Name, long Value)[] attributes) =>
        Node(op, inputs, output, ints: null, attributes);

    /// <summary>A node with integer attributes and, if given, one attribute holding a list of one integer (axes).</summary>
    private static byte[] Node(string op, string[] inputs, string output, (string Name, long Value)? ints, params (string Name, long Value)[] attributes) => Message(o =>
    {
        foreach (var input in inputs) { o.WriteTag(NodeInput, WireFormat.WireType.LengthDelimited); o.WriteString(input); }
        o.WriteTag(NodeOutput, WireFormat.WireType.LengthDelimited); o.WriteString(output);
        o.WriteTag(NodeName, WireFormat.WireType.LengthDelimited); o.WriteString(output + "/" + op);
        o.WriteTag(NodeOpType, WireFormat.WireType.LengthDelimited); o.WriteString(op);
        foreach (var (name, value) in attributes)
            WriteMessage(o, NodeAttribute, Message(a =>
            {
                a.WriteTag(AttributeName, WireFormat.WireType.LengthDelimited); a.WriteString(name);
                a.WriteTag(AttributeInt, WireFormat.WireType.Varint); a.WriteInt64(value);
                a.WriteTag(AttributeType, WireFormat.WireType.Varint); a.WriteInt32(AttributeTypeInt);
            }));
        if (ints is var (listName, listValue))
            WriteMessage(o, NodeAttribute, Message(a =>
            {
                a.WriteTag(AttributeName, WireFormat.WireType.LengthDelimited); a.WriteString(listName);
                a.WriteTag(AttributeInts, WireFormat.WireType.Varint); a.WriteInt64(listValue);
                a.WriteTag(AttributeType, WireFormat.WireType.Varint); a.WriteInt32(AttributeTypeInts);
            }));
    });

    private static byte[] Int64Tensor(string name, long[] dims, long value) => Message(o =>
    {
        foreach (var d in dims) { o.WriteTag(TensorDims, WireFormat.WireType.Varint); o.WriteInt64(d); }
        o.WriteTag(TensorDataType, WireFormat.WireType.Varint); o.WriteInt32(Int64);
        o.WriteTag(TensorInt64Data, WireFormat.WireType.Varint); o.WriteInt64(value);
        o.WriteTag(TensorName, WireFormat.WireType.LengthDelimited); o.WriteString(name);
    });

    private static byte[] FloatTensor(string name, float value) => Message(o =>
    {
        o.WriteTag(TensorDataType, WireFormat.WireType.Varint); o.WriteInt32(Float);
        o.WriteTag(TensorFloatData, WireFormat.WireType.Fixed32); o.WriteFloat(value);
        o.WriteTag(TensorName, WireFormat.WireType.LengthDelimited); o.WriteString(name);
    });

    private static byte[] FloatOutput(string name) => Message(o =>
    {
        o.WriteTag(ValueInfoName, WireFormat.WireType.LengthDelimited); o.WriteString(name);
        var tensorType = Message(t => { t.WriteTag(TensorTypeElemType, WireFormat.WireType.Varint); t.WriteInt32(Float); });
        WriteMessage(o, ValueInfoType, Message(t => WriteMessage(t, TypeTensor, tensorType)));
    });

    private static void WriteMessage(CodedOutputStream output, int field, byte[] message)
    {
        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(message));
    }

    private static byte[] Message(Action<CodedOutputStream> write)
    {
        using var buffer = new MemoryStream();
        using (var output = new CodedOutputStream(buffer, leaveOpen: true)) write(output);
        return buffer.ToArray();
    }
}
