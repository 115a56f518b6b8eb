using RagCluster.Runtime.Serialization;

namespace RagCluster.Runtime.Messaging;

/// <summary>A grain call on the wire. Arguments stay encoded until the target activation decodes them.</summary>
internal sealed class RequestFrame
{
    private const uint Magic = 0x32435247; // "GRC2": GRC1 plus the W3C traceparent

    public required GrainId Target { get; init; }
    public required uint MethodId { get; init; }
    public required ReadOnlyMemory<byte> Arguments { get; init; }
    /// <summary>Milliseconds the caller still waits; expired work is dropped instead of run.</summary>
    public required int TimeoutMs { get; init; }
    /// <summary>Membership version the sender routed by; a newer one makes the receiver refresh first.</summary>
    public long ViewVersion { get; init; }
    /// <summary>Silo-to-silo forwards so far, bounded so that disagreeing views cannot bounce a call forever.</summary>
    public int Hops { get; init; }
    /// <summary>W3C traceparent of the caller's span ("" when the call is not traced).</summary>
    public string TraceParent { get; init; } = "";

    public RequestFrame Forwarded(long viewVersion, int remainingMs) => new()
    {
        Target = Target, MethodId = MethodId, Arguments = Arguments, TimeoutMs = remainingMs,
        ViewVersion = viewVersion, Hops = Hops + 1, TraceParent = TraceParent,
    };

    public byte[] Encode()
    {
        var w = new WireWriter(64 + Arguments.Length);
        w.WriteFixed32(Magic);
        w.WriteByte((byte)Hops);
        w.WriteVarUInt((ulong)TimeoutMs);
        w.WriteVarInt(ViewVersion);
        w.WriteString(TraceParent);
        w.WriteString(Target.Type);
        w.WriteString(Target.Key);
        w.WriteVarUInt(MethodId);
        w.WriteBytes(Arguments.Span);
        return w.ToArray();
    }

    public static RequestFrame Decode(ReadOnlyMemory<byte> bytes)
    {
        var r = new WireReader(bytes);
        if (r.Remaining < 4 || r.ReadFixed32() != Magic) throw new BadMessageException("not a grain call frame (bad magic)");
        var hops = r.ReadByte();
        var timeout = r.ReadVarUInt();
        var view = r.ReadVarInt();
        var traceParent = r.ReadString();
        if (traceParent.Length > 128) throw new BadMessageException("traceparent too long");
        var type = r.ReadString();
        var key = r.ReadString();
        var method = r.ReadVarUInt();
        var args = r.ReadRawMemory(r.ReadLength());
        if (r.Remaining != 0) throw new BadMessageException("unexpected bytes after the call frame");
        if (timeout is 0 or > int.MaxValue) throw new BadMessageException("call timeout out of range");
        if (method > uint.MaxValue) throw new BadMessageException("method id out of range");
        return new RequestFrame
        {
            Target = new GrainId(type, key), MethodId = (uint)method, Arguments = args,
            TimeoutMs = (int)timeout, ViewVersion = view, Hops = hops, TraceParent = traceParent,
        };
    }
}

internal enum ResponseStatus : byte
{
    /// <summary>The grain ran the call; the payload is its encoded result.</summary>
    Ok = 0,
    /// <summary>The grain (or the runtime on its behalf) threw; the payload describes the exception.</summary>
    Error = 1,
    /// <summary>Not run: the receiver is not (or no longer) the right place. Safe to retry after a view refresh.</summary>
    Reroute = 2,
    /// <summary>Not run: the silo is stopping or a forward target was unreachable. Safe to retry.</summary>
    Unavailable = 3,
    /// <summary>The call may have run, but its reply was lost with the silo that ran it.</summary>
    OutcomeUnknown = 4,
}

internal sealed class ResponseFrame
{
    public required ResponseStatus Status { get; init; }
    public long ViewVersion { get; init; }
    public ReadOnlyMemory<byte> Result { get; init; }
    public string? ErrorType { get; init; }
    public string? ErrorMessage { get; init; }
    public string? ErrorStack { get; init; }

    public static ResponseFrame Ok(ReadOnlyMemory<byte> result, long view) => new() { Status = ResponseStatus.Ok, Result = result, ViewVersion = view };

    public static ResponseFrame Failure(ResponseStatus status, string message, long view) =>
        new() { Status = status, ErrorType = typeof(SiloUnavailableException).FullName, ErrorMessage = message, ViewVersion = view };

    public static ResponseFrame FromException(Exception e, long view) => new()
    {
        Status = ResponseStatus.Error, ViewVersion = view,
        ErrorType = e.GetType().FullName, ErrorMessage = e.Message, ErrorStack = e.StackTrace,
    };

    public byte[] Encode()
    {
        var w = new WireWriter(16 + Result.Length);
        w.WriteByte((byte)Status);
        w.WriteVarInt(ViewVersion);
        if (Status == ResponseStatus.Ok)
        {
            w.WriteBytes(Result.Span);
        }
        else
        {
            w.WriteString(ErrorType ?? "");
            w.WriteString(ErrorMessage ?? "");
            w.WriteString(ErrorStack ?? "");
        }
        return w.ToArray();
    }

    public static ResponseFrame Decode(ReadOnlyMemory<byte> bytes)
    {
        var r = new WireReader(bytes);
        var status = r.ReadByte();
        if (status > (byte)ResponseStatus.OutcomeUnknown) throw new BadMessageException($"unknown response status {status}");
        var view = r.ReadVarInt();
        if (status == (byte)ResponseStatus.Ok)
            return new ResponseFrame { Status = ResponseStatus.Ok, ViewVersion = view, Result = r.ReadRawMemory(r.ReadLength()) };
        return new ResponseFrame
        {
            Status = (ResponseStatus)status, ViewVersion = view,
            ErrorType = r.ReadString(), ErrorMessage = r.ReadString(), ErrorStack = NullIfEmpty(r.ReadString()),
        };
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    /// <summary>Rebuilds the remote exception: the same type when it is known here and takes a message, else <see cref="RemoteGrainException"/>.</summary>
    public Exception ToException()
    {
        var message = ErrorMessage ?? "";
        switch (ErrorType)
        {
            case var t when t == typeof(InconsistentStateException).FullName: return new InconsistentStateException(message);
            case var t when t == typeof(GrainCallTimeoutException).FullName: return new GrainCallTimeoutException(message);
            case var t when t == typeof(UnknownGrainTypeException).FullName: return new UnknownGrainTypeException(message);
            case var t when t == typeof(BadMessageException).FullName: return new BadMessageException(message);
            case var t when t == typeof(SiloUnavailableException).FullName:
                return new SiloUnavailableException(message, Status == ResponseStatus.OutcomeUnknown);
        }
        // Only exception types already loaded in this process are rebuilt: the wire never makes us load code.
        var type = ErrorType is null ? null : AppDomain.CurrentDomain.GetAssemblies()
            .Select(a => a.GetType(ErrorType, throwOnError: false)).FirstOrDefault(x => x is not null);
        if (type is not null && typeof(Exception).IsAssignableFrom(type) && !type.IsAbstract && type.GetConstructor([typeof(string)]) is { } ctor)
        {
            try { return (Exception)ctor.Invoke([message]); }
            catch (System.Reflection.TargetInvocationException) { /* fall through */ }
        }
        return new RemoteGrainException(ErrorType ?? "unknown", message, ErrorStack);
    }
}
