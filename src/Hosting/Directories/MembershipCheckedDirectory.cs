using Orleans.GrainDirectory;
using RagCluster.Grains.Interfaces.Errors;

namespace RagCluster.Hosting.Directories;

/// <summary>
/// Orleans' Redis grain directory, with one more check of where an entry points. Orleans drops an entry whose silo is
/// dead in the membership, or absent from it with an older membership version than the current one. After Redis comes
/// back empty the membership table starts its versions again, so an entry of a silo killed later, absent from the new
/// table, looked newer than it and was kept: every call to that shard failed to connect, for minutes in the fault suite
/// (a Redis restart, then kill -9 of every process). Here an entry whose silo the membership does not know, even after
/// reading the table again, is gone: a silo hosts activations only once it is in the table.
/// And Redis failures leave as ours (a 503 with Retry-After at the API): Orleans' directory throws a plain
/// OrleansException carrying the driver's whole exception text, which the API does not count as transient.
/// </summary>
internal sealed class MembershipCheckedDirectory(IGrainDirectory inner, IClusterMembershipService membership) : IGrainDirectory
{
    public Task<GrainAddress?> Lookup(GrainId grainId) => Ours("lookup", async () =>
    {
        var entry = await inner.Lookup(grainId);
        if (entry is null || !await IsUnknownAsync(entry.SiloAddress)) return entry;
        await inner.Unregister(entry);
        return null;
    });

    public Task<GrainAddress?> Register(GrainAddress address) => Register(address, null);

    public Task<GrainAddress?> Register(GrainAddress address, GrainAddress? previousAddress) => Ours("registration", async () =>
    {
        var result = await inner.Register(address, previousAddress);
        // Another entry holds the grain: taken over (the script replaces exactly that entry) if its silo is unknown.
        if (result is not null && result.ActivationId != address.ActivationId && await IsUnknownAsync(result.SiloAddress))
            result = await inner.Register(address, result);
        return result;
    });

    public Task Unregister(GrainAddress address) => Ours("unregistration", async () =>
    {
        await inner.Unregister(address);
        return (GrainAddress?)null;
    });

    public Task UnregisterSilos(List<SiloAddress> siloAddresses) => inner.UnregisterSilos(siloAddresses);

    private static async Task<GrainAddress?> Ours(string operation, Func<Task<GrainAddress?>> call)
    {
        try
        {
            return await call();
        }
        catch (OrleansException e) when (e.GetType() == typeof(OrleansException))
        {
            throw new StorageUnavailableException($"the grain directory in Redis failed a {operation}: {DocumentRefusal.FirstLine(e.Message)}");
        }
    }

    private async Task<bool> IsUnknownAsync(SiloAddress? silo)
    {
        if (silo is null) return false;
        if (membership.CurrentSnapshot.Members.ContainsKey(silo)) return false;
        await membership.Refresh();
        return !membership.CurrentSnapshot.Members.ContainsKey(silo);
    }
}
