namespace RagCluster.Runtime;

/// <summary>Base of errors raised by the runtime itself (not by grain code).</summary>
public class GrainRuntimeException : Exception
{
    public GrainRuntimeException(string message) : base(message) { }
    public GrainRuntimeException(string message, Exception? inner) : base(message, inner) { }
    /// <summary>True when the caller may safely try the same call again later.</summary>
    public virtual bool IsRetriable => false;
}

/// <summary>A storage write or clear was based on a stale ETag; the stored state was left untouched.</summary>
public sealed class InconsistentStateException : GrainRuntimeException
{
    public InconsistentStateException(string message) : base(message) { }
}

/// <summary>The call did not complete within its timeout. It may or may not have run.</summary>
public sealed class GrainCallTimeoutException : GrainRuntimeException
{
    public GrainCallTimeoutException(string message) : base(message) { }
    public override bool IsRetriable => true;
}

/// <summary>
/// No silo could serve the call right now (owner died, cluster reconfiguring, gateway down).
/// <see cref="MayHaveExecuted"/> says whether the grain might have run it before the connection broke.
/// </summary>
public sealed class SiloUnavailableException : GrainRuntimeException
{
    public SiloUnavailableException(string message, bool mayHaveExecuted = false, Exception? inner = null) : base(message, inner)
        => MayHaveExecuted = mayHaveExecuted;
    public bool MayHaveExecuted { get; }
    public override bool IsRetriable => true;
}

/// <summary>No grain class implements the requested interface on the target silo.</summary>
public sealed class UnknownGrainTypeException : GrainRuntimeException
{
    public UnknownGrainTypeException(string message) : base(message) { }
}

/// <summary>A message was malformed or exceeded the configured size.</summary>
public sealed class BadMessageException : GrainRuntimeException
{
    public BadMessageException(string message) : base(message) { }
}

/// <summary>A grain method threw an exception whose type is not available on the caller.</summary>
public sealed class RemoteGrainException : GrainRuntimeException
{
    public RemoteGrainException(string remoteType, string message, string? remoteStackTrace)
        : base($"{remoteType}: {message}")
    {
        RemoteType = remoteType;
        RemoteStackTrace = remoteStackTrace;
    }
    public string RemoteType { get; }
    public string? RemoteStackTrace { get; }
}
