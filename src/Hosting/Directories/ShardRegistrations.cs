using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.GrainDirectory;
using Orleans.Metadata;

namespace RagCluster.Hosting.Directories;

/// <summary>
/// Keeps the Redis directory's entry of every shard activation on this silo. A Redis that restarts without persistence
/// (the README's) comes back empty: a live shard is then unknown, and the next call that misses its caller's cache would
/// make a second activation, with the first still answering searches from what it held. Every
/// <see cref="CheckPeriod"/> this puts a lost entry back, and deactivates an activation whose entry names another (the
/// other one took the shard's log over, so this one's writes are already refused by the log's epoch). Orleans' Redis
/// directory does neither itself. So a second activation lives at most one period after Redis is back.
/// </summary>
internal sealed class ShardRegistrations(GrainType shards, IServiceProvider services, IClusterMembershipService membership,
    ILogger log) : IConfigureGrainContextProvider, IConfigureGrainContext, ILifecycleParticipant<ISiloLifecycle>
{
    public static readonly TimeSpan CheckPeriod = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<ActivationId, IGrainContext> _live = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private bool _unreachable;

    public bool TryGetConfigurator(GrainType grainType, GrainProperties properties, [NotNullWhen(true)] out IConfigureGrainContext? configurator)
    {
        configurator = grainType == shards ? this : null;
        return configurator is not null;
    }

    // SetupState starts after Orleans registered the activation, and stops as it deactivates.
    public void Configure(IGrainContext context) => context.ObservableLifecycle.Subscribe(nameof(ShardRegistrations), GrainLifecycleStage.SetupState,
        _ =>
        {
            _live[context.Address.ActivationId] = context;
            return Task.CompletedTask;
        },
        _ =>
        {
            _live.TryRemove(context.Address.ActivationId, out var _);
            return Task.CompletedTask;
        });

    public void Participate(ISiloLifecycle lifecycle) => lifecycle.Subscribe<ShardRegistrations>(ServiceLifecycleStage.Active, _ =>
    {
        _loop = RunAsync(_stop.Token);
        return Task.CompletedTask;
    }, async _ =>
    {
        _stop.Cancel();
        await _loop;
    });

    private async Task RunAsync(CancellationToken stop)
    {
        var directory = services.GetRequiredService<MembershipCheckedDirectory>();
        using var timer = new PeriodicTimer(CheckPeriod);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
                await CheckAsync(directory);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
    }

    /// <summary>One pass over this silo's shard activations; returns how many entries it put back.</summary>
    internal async Task<int> CheckAsync(IGrainDirectory directory)
    {
        var restored = 0;
        foreach (var context in _live.Values)
        {
            var mine = context.Address;
            try
            {
                var entry = await directory.Lookup(mine.GrainId);
                if (entry?.ActivationId == mine.ActivationId) continue;
                // Lost with Redis, or left by a silo that is gone (a Redis restored from an older save): ours again.
                if (entry?.SiloAddress is not { } silo || membership.CurrentSnapshot.GetSiloStatus(silo) != SiloStatus.Active)
                {
                    entry = await directory.Register(mine, entry);
                    if (entry?.ActivationId == mine.ActivationId)
                    {
                        restored++;
                        continue;
                    }
                }
                log.DuplicateShard(mine.GrainId, entry?.SiloAddress);
                context.Deactivate(new DeactivationReason(DeactivationReasonCode.DuplicateActivation, "another activation of this shard is registered"));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Redis is down: nothing to repair until it is back, and a caller cannot register another activation either.
                if (!_unreachable) log.DirectoryUnreachable(e.Message);
                _unreachable = true;
                return restored;
            }
        }
        if (restored > 0) log.EntriesRestored(restored);
        _unreachable = false;
        return restored;
    }
}

internal static partial class ShardRegistrationsLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Grain} is registered on {Silo}, not here: this activation deactivates (the directory lost its entry, and a call made another)")]
    public static partial void DuplicateShard(this ILogger logger, GrainId grain, SiloAddress? silo);

    [LoggerMessage(Level = LogLevel.Information, Message = "Put {Count} shard activations back in the Redis grain directory, which had lost their entries")]
    public static partial void EntriesRestored(this ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The Redis grain directory cannot be read; shard entries are checked again when it is back: {Error}")]
    public static partial void DirectoryUnreachable(this ILogger logger, string error);
}
