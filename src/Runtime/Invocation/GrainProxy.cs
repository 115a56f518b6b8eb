using System.Reflection;

namespace RagCluster.Runtime.Invocation;

/// <summary>Sends a call to a grain somewhere in the cluster and returns its encoded result.</summary>
internal interface IGrainCallSender
{
    Task<object?> SendAsync(GrainId target, GrainMethod method, object?[]? args);
}

/// <summary>The object behind <c>GetGrain&lt;T&gt;(key)</c>: every interface call becomes a message.</summary>
public class GrainProxy : DispatchProxy
{
    private IGrainCallSender _sender = null!;
    private GrainInterface _interface = null!;

    internal GrainId GrainId { get; private set; }

    internal static T Create<T>(IGrainCallSender sender, string key) where T : IGrainWithStringKey
    {
        ArgumentNullException.ThrowIfNull(key);
        var info = GrainInterface.For(typeof(T));
        var proxy = Create<T, GrainProxy>();
        var self = (GrainProxy)(object)proxy!;
        self._sender = sender;
        self._interface = info;
        self.GrainId = new GrainId(info.Name, key);
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (targetMethod is null) throw new ArgumentNullException(nameof(targetMethod));
        if (!_interface.ByMethod.TryGetValue(targetMethod, out var method))
        {
            // object members (ToString, Equals, GetHashCode) answer locally.
            return targetMethod.Name switch
            {
                nameof(ToString) => GrainId.ToString(),
                nameof(GetHashCode) => GrainId.GetHashCode(),
                nameof(Equals) => args?[0] is GrainProxy other && other.GrainId == GrainId,
                _ => throw new NotSupportedException($"{targetMethod.Name} is not a grain method of {_interface.Type.Name}"),
            };
        }
        return method.FromResultTask(_sender.SendAsync(GrainId, method, args));
    }
}
