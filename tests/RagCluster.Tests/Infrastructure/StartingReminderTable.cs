using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;

namespace RagCluster.Tests.Infrastructure;

/// <summary>
/// The silo's real reminder table, whose range reads fail in the first <c>rounds</c> rounds (calls more than a second
/// apart), as a database that is still starting or busy when a silo starts. Orleans' reminder service loads its range
/// with those reads before it takes any reminder change.
/// </summary>
public sealed class StartingReminderTable(IReminderTable inner, int rounds) : IReminderTable
{
    private readonly object _gate = new();
    private DateTime _lastFailure = DateTime.MinValue;

    /// <summary>Rounds of range reads failed so far.</summary>
    public int FailedRounds { get; private set; }

    /// <summary>Replaces the registered reminder table with this one around it.</summary>
    public static void Install(IServiceCollection services, int rounds)
    {
        var registered = services.Last(d => d.ServiceType == typeof(IReminderTable));
        services.Remove(registered);
        services.AddSingleton<IReminderTable>(sp => new StartingReminderTable(
            registered.ImplementationFactory?.Invoke(sp) as IReminderTable
            ?? (IReminderTable)ActivatorUtilities.CreateInstance(sp, registered.ImplementationType!), rounds));
    }

    public Task<ReminderTableData> ReadRows(uint begin, uint end)
    {
        lock (_gate)
        {
            var now = DateTime.UtcNow;
            var sameRound = now - _lastFailure <= TimeSpan.FromSeconds(1);
            if (sameRound || FailedRounds < rounds)
            {
                if (!sameRound) FailedRounds++;
                _lastFailure = now;
                throw new TimeoutException("injected: the reminder table did not answer");
            }
        }
        return inner.ReadRows(begin, end);
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);
    public Task Init() => inner.Init();
    public Task<ReminderTableData> ReadRows(GrainId grainId) => inner.ReadRows(grainId);
    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) => inner.ReadRow(grainId, reminderName);
    public Task<string?> UpsertRow(ReminderEntry entry) => inner.UpsertRow(entry);
    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag) => inner.RemoveRow(grainId, reminderName, eTag);
    public Task TestOnlyClearTable() => inner.TestOnlyClearTable();
    public Task StopAsync(CancellationToken cancellationToken = default) => inner.StopAsync(cancellationToken);
}
