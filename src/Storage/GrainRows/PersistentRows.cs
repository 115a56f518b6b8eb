using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using RagCluster.Storage.Faults;

namespace RagCluster.Storage.GrainRows;

/// <summary>
/// A grain's head plus keyed row sets, for state with a part too large to rewrite on every change (a collection's
/// document registry): Orleans' IPersistentState writes the whole state each time, so this is ours. The grain keeps
/// the head in memory and reads rows a page at a time. <see cref="ReadAsync(CancellationToken)"/> fences: it takes the next owner epoch,
/// and a later write of an older epoch is refused with <see cref="Orleans.Storage.InconsistentStateException"/>.
/// </summary>
public interface IPersistentRows
{
    /// <summary>Takes ownership (a new epoch), then loads the head (null if never written) and each set's row count.</summary>
    Task<(byte[]? Head, Dictionary<string, long> Counts)> ReadAsync(CancellationToken cancellationToken = default);
    /// <summary>Rows of a set after a key (null: from the start), in key order.</summary>
    Task<List<(string Key, byte[] Value)>> PageAsync(string set, string? after, int limit, CancellationToken cancellationToken = default);
    /// <summary>The rows of a set with these keys (those that exist).</summary>
    Task<Dictionary<string, byte[]>> ReadAsync(string set, IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default);
    /// <summary>Stores the head and the row changes in one transaction; returns the row count each touched set gained.</summary>
    Task<Dictionary<string, long>> WriteAsync(byte[] head, IReadOnlyList<RowChange> changes, CancellationToken cancellationToken = default);
}

/// <summary>Marks a grain constructor parameter of type <see cref="IPersistentRows"/>, as [PersistentState] does for state.</summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class PersistentRowsAttribute(string name) : Attribute, IFacetMetadata
{
    public string Name { get; } = name;
}

/// <summary>One grain's rows: holds the epoch of this activation. Driver failures leave as StorageUnavailableException.</summary>
internal sealed class PersistentRows(IGrainRowStore store, string grain, string name) : IPersistentRows
{
    private long _epoch;

    public Task<(byte[]? Head, Dictionary<string, long> Counts)> ReadAsync(CancellationToken cancellationToken = default) =>
        StoreFaults.Read(async () =>
        {
            _epoch = await store.ClaimAsync(grain, name, cancellationToken);
            return (await store.ReadHeadAsync(grain, name, cancellationToken), await store.CountAsync(grain, name, cancellationToken));
        }, $"a read of rows '{name}' of {grain}", cancellationToken);

    public Task<List<(string Key, byte[] Value)>> PageAsync(string set, string? after, int limit, CancellationToken cancellationToken = default) =>
        StoreFaults.Read(() => store.PageAsync(grain, name, set, after, limit, cancellationToken), $"a page of rows '{name}/{set}' of {grain}", cancellationToken);

    public Task<Dictionary<string, byte[]>> ReadAsync(string set, IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default) =>
        StoreFaults.Read(() => store.ReadAsync(grain, name, set, keys, cancellationToken), $"a read of rows '{name}/{set}' of {grain}", cancellationToken);

    public Task<Dictionary<string, long>> WriteAsync(byte[] head, IReadOnlyList<RowChange> changes, CancellationToken cancellationToken = default)
    {
        if (_epoch == 0) throw new InvalidOperationException($"rows '{name}' of {grain} must be read (ReadAsync) before they are written");
        return StoreFaults.Run(() => store.WriteAsync(grain, name, _epoch, head, changes, cancellationToken), $"a write of rows '{name}' of {grain}");
    }
}

internal sealed class PersistentRowsAttributeMapper(IGrainRowStore store) : IAttributeToFactoryMapper<PersistentRowsAttribute>
{
    public Factory<IGrainContext, object> GetFactory(ParameterInfo parameter, PersistentRowsAttribute metadata) =>
        context => new PersistentRows(store, context.GrainId.ToString(), metadata.Name);
}

public static class GrainRowServiceCollectionExtensions
{
    /// <summary>Makes [PersistentRows] constructor parameters work, with rows kept in <paramref name="store"/>.</summary>
    public static IServiceCollection AddGrainRows(this IServiceCollection services, Func<IServiceProvider, IGrainRowStore> store)
    {
        services.AddSingleton(store);
        services.AddSingleton<IAttributeToFactoryMapper<PersistentRowsAttribute>, PersistentRowsAttributeMapper>();
        return services;
    }
}
