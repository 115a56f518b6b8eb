using Microsoft.Extensions.Logging;

namespace RagCluster.Grains.Embedding;

/// <summary>Embedding's log lines, source-generated: the model, the provider and the device it runs on.</summary>
internal static partial class EmbeddingLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "{Status}")]
    public static partial void StatusWarning(this ILogger logger, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Status}")]
    public static partial void StatusInformation(this ILogger logger, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "ONNX Runtime {Version} providers: {Providers}")]
    public static partial void OrtProviders(this ILogger logger, string version, string providers);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Status}: vectors are hashed word pieces, for measuring the pipeline, not for meaning")]
    public static partial void HashingEncoderInUse(this ILogger logger, string status);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Status}")]
    public static partial void StatusError(this ILogger logger, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queries keep the model's float32 weights: int8 weights did not load ({Reason})")]
    public static partial void QueryWeightsStayFloat32(this ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Passages keep the model's float32 weights: int8 weights did not load ({Reason})")]
    public static partial void PassageWeightsStayFloat32(this ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedding: ran {Shapes} input shapes once in {Seconds:F1} s (a GPU's first run of a shape is its slow one)")]
    public static partial void ShapesWarmedUp(this ILogger logger, int shapes, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "CUDA execution provider could not start ({Reason}); embedding on CPU")]
    public static partial void CudaDidNotStart(this ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedding on {Provider}: {Device}")]
    public static partial void EmbeddingOn(this ILogger logger, string? provider, string device);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pooling inside the session failed ({Reason}); pooling on the host")]
    public static partial void PoolingOnHost(this ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "CUDA execution provider unavailable ({Reason}); embedding on CPU")]
    public static partial void CudaUnavailable(this ILogger logger, string reason);
}
