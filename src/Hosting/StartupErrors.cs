using System.Net.Sockets;
using Orleans.Runtime;

namespace RagCluster.Hosting;

/// <summary>Which start-up failures are the operator's to fix (shown as one line) rather than bugs (shown with a stack trace).</summary>
public static class StartupErrors
{
    public static bool IsConfigurationOrEnvironment(Exception e) => e is OrleansLifecycleCanceledException or OrleansConfigurationException
        || e.GetBaseException() is ArgumentException or FormatException or IOException or SocketException or Npgsql.NpgsqlException
            or Microsoft.Data.Sqlite.SqliteException or StackExchange.Redis.RedisConnectionException or OrleansConfigurationException
            or InvalidOperationException or TimeoutException;

    public static string Describe(Exception e)
    {
        var root = e.GetBaseException();
        return root.Message.Split('\n')[0].Trim();
    }
}
