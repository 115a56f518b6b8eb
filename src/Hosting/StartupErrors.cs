using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace RagCluster.Hosting;

/// <summary>Which start-up failures are the operator's to fix (shown as one line) rather than bugs (shown with a stack trace).</summary>
public static partial class StartupErrors
{
    /// <summary>
    /// Runs every options check registered with ValidateOnStart now, before any hosted service (the silo) starts: the host
    /// would run the same checks, but only after it had begun to start and logged the failure with its stack.
    /// </summary>
    public static void ValidateSettings(IServiceProvider services) => services.GetService<IStartupValidator>()?.Validate();

    public static bool IsConfigurationOrEnvironment(Exception e) => e is OrleansLifecycleCanceledException or OrleansConfigurationException
        || Chain(e).Any(x => x is OptionsValidationException)
        || e.GetBaseException() is ArgumentException or FormatException or IOException or SocketException or Npgsql.NpgsqlException
            or Microsoft.Data.Sqlite.SqliteException or StackExchange.Redis.RedisConnectionException or OrleansConfigurationException
            or InvalidOperationException or TimeoutException;

    public static string Describe(Exception e)
    {
        // Failed checks, each a line naming its key: one line for all of them.
        var failed = Chain(e).OfType<OptionsValidationException>().SelectMany(v => v.Failures).ToList();
        if (failed.Count > 0) return string.Join("; ", failed.Select(FirstLine));
        // A value the configuration binder could not convert: its own message names the key, the root's only the value.
        foreach (var x in Chain(e))
            if (x is InvalidOperationException && BinderFailure().Match(x.Message) is { Success: true } m)
                return $"{m.Groups["key"].Value} '{m.Groups["value"].Value}' is not {Kind(m.Groups["type"].Value)}";
        return FirstLine(e.GetBaseException().Message);
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();

    /// <summary>The exception and every one inside it, each once (an AggregateException's first inner one is also its InnerException).</summary>
    private static IEnumerable<Exception> Chain(Exception e) =>
        e is AggregateException a ? a.InnerExceptions.SelectMany(Chain).Prepend(e)
            : e.InnerException is { } inner ? Chain(inner).Prepend(e)
            : [e];

    private static string Kind(string type) => type switch
    {
        "System.TimeSpan" => "a time span such as 00:00:30",
        "System.Int32" or "System.Int64" => "a whole number",
        "System.Double" or "System.Single" => "a number",
        "System.Boolean" => "true or false",
        _ => $"a value of type {type}",
    };

    [GeneratedRegex(@"^Failed to convert configuration value '(?<value>.*)' at '(?<key>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex BinderFailure();
}
