using System.Collections.Concurrent;
using RagCluster.Grains.Interfaces.Embedding;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Placement;

namespace RagCluster.Grains.Embedding;

/// <summary>
/// Where this silo's texts are embedded, by the shortest path the silo roles allow: on this silo when it has the
/// embedding role (the local service, no grain call and no copy), otherwise on the active embedding silo this silo
/// has the fewest texts outstanding with (through its <see cref="IEmbeddingGrain"/>). With no embedding silo active
/// it throws <see cref="EmbeddingUnavailableException"/> at once, so a document stays pending and a query falls
/// back to BM25 instead of anything embedding on a silo that was kept free of it.
/// </summary>
public sealed class Embedder(EmbeddingModel model, IGrainFactory grains, IClusterMembershipService membership, SiloRoleFilterDirector roles,
    SiloRoles? ownRoles = null)
{
    private readonly SiloRoles _ownRoles = ownRoles ?? SiloRoles.All;

    // Blocks only a caller that did not await ModelLoaded first: every grain path awaits it before it tokenises or embeds.
    private EmbeddingService Model => model.Current ?? model.Loaded.GetAwaiter().GetResult();

    /// <summary>Completes when this silo's embedding service (its tokenizer and, on an embedding silo, its model) has loaded; starts that load.</summary>
    public Task ModelLoaded => model.Loaded;

    private readonly ConcurrentDictionary<SiloAddress, int> _outstanding = new();

    /// <summary>Whether the cluster embeds texts (a model is configured and, once loaded, loaded well), here or elsewhere; loads nothing.</summary>
    public bool DenseRetrieval => model.Current?.IsConfigured ?? model.Configured;

    /// <summary>This silo's tokenizer and framing (every silo tokenises; only embedding silos run the model); loads them if need be.</summary>
    public EmbeddingService Local => Model;

    /// <summary>The configured model's name; loads nothing.</summary>
    public string? ModelName => model.Current?.ModelName ?? model.Name;

    /// <summary>Null when texts can be embedded now (or once the model has loaded); otherwise why not, in one line. Loads nothing.</summary>
    public string? Unavailable()
    {
        if (model.Current is not { } loaded)
            return !model.Configured ? model.NotLoadedStatus : _ownRoles.Embeds || EmbeddingSilos().Length > 0 ? null : NoEmbeddingSilo;
        if (loaded.IsAvailable) return null;
        if (!loaded.IsConfigured) return loaded.Status;
        return EmbeddingSilos().Length > 0 ? null : NoEmbeddingSilo;
    }

    private static string NoEmbeddingSilo => $"no silo with the {SiloRoles.Embedding} role is active (Silo:Roles); documents stay pending until one joins";

    /// <summary>What this silo says about its embedding (/v1/embedding, the dashboard); before the load, what will load. Loads nothing.</summary>
    public EmbeddingInfo Info(string silo) => model.Current is { } loaded ? loaded.Info(silo) with { Loaded = true }
        : new EmbeddingInfo(model.Configured && _ownRoles.Embeds, model.NotLoadedStatus, 0, null)
        {
            Silo = silo, Roles = [.. _ownRoles.Names],
        };

    /// <summary>The active silos that offer the embedding role, as this silo's membership view and their metadata say.</summary>
    public SiloAddress[] EmbeddingSilos() => membership.CurrentSnapshot.Members.Values
        .Where(m => m.Status == SiloStatus.Active && roles.Offers(m.SiloAddress, SiloRoles.Embedding))
        .Select(m => m.SiloAddress).ToArray();

    public async Task<float[][]> EmbedAsync(int[][] sequences, EmbeddingKind kind, CancellationToken cancellationToken = default)
    {
        var service = await model.Loaded.WaitAsync(cancellationToken);
        if (service.IsAvailable) return await service.EmbedTokensAsync(sequences, kind, cancellationToken);
        if (!service.IsConfigured) throw new EmbeddingUnavailableException(service.Status);
        return await RemoteAsync(sequences, kind, cancellationToken);
    }

    private async Task<float[][]> RemoteAsync(int[][] sequences, EmbeddingKind kind, CancellationToken cancellationToken)
    {
        if (sequences.Length == 0) return [];
        var silos = EmbeddingSilos();
        if (silos.Length == 0) throw new EmbeddingUnavailableException(Unavailable() ?? "no embedding silo is active");
        // The least busy by this silo's own count; ties broken at random so silos that start together do not all pick the first.
        var target = silos.OrderBy(s => _outstanding.GetValueOrDefault(s)).ThenBy(_ => Random.Shared.Next()).First();
        _outstanding.AddOrUpdate(target, sequences.Length, (_, n) => n + sequences.Length);
        try
        {
            return await grains.GetGrain<IEmbeddingGrain>(target.ToParsableString()).EmbedTokens(sequences, kind == EmbeddingKind.Query).WaitAsync(cancellationToken);
        }
        finally
        {
            _outstanding.AddOrUpdate(target, 0, (_, n) => n - sequences.Length);
            foreach (var gone in _outstanding.Keys.Except(silos)) if (_outstanding.TryGetValue(gone, out var n) && n <= 0) _outstanding.TryRemove(gone, out _);
        }
    }
}
