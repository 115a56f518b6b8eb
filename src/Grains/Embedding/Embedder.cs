using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
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
public sealed class Embedder(IServiceProvider services, IGrainFactory grains, IClusterMembershipService membership, SiloRoleFilterDirector roles)
{
    // Made on a thread of its own from the moment this is, not with it: the model loads for seconds while a silo starts,
    // and a search with its own vector, which needs none of it, waited behind that load (issue 73, item 3: 2 s of a
    // restart's first search); a text search awaits ModelLoaded rather than block its grain's turn. Not a pool thread:
    // on 2 cores two pool threads held for seconds can starve the grains' scheduler.
    private readonly Task<EmbeddingService> _model = Task.Factory.StartNew(services.GetRequiredService<EmbeddingService>,
        CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    private EmbeddingService Model => _model.IsCompletedSuccessfully ? _model.Result : _model.GetAwaiter().GetResult();

    /// <summary>Completes when this silo's embedding service (its tokenizer and, on an embedding silo, its model) has loaded.</summary>
    public Task ModelLoaded => _model;

    private readonly ConcurrentDictionary<SiloAddress, int> _outstanding = new();

    /// <summary>Whether the cluster embeds texts (a model is configured), here or elsewhere.</summary>
    public bool DenseRetrieval => Model.IsConfigured;

    /// <summary>This silo's tokenizer and framing (every silo tokenises; only embedding silos run the model).</summary>
    public EmbeddingService Local => Model;

    /// <summary>Null when texts can be embedded now; otherwise why not, in one line.</summary>
    public string? Unavailable()
    {
        if (Model.IsAvailable) return null;
        if (!Model.IsConfigured) return Model.Status;
        return EmbeddingSilos().Length > 0 ? null
            : $"no silo with the {SiloRoles.Embedding} role is active (Silo:Roles); documents stay pending until one joins";
    }

    /// <summary>The active silos that offer the embedding role, as this silo's membership view and their metadata say.</summary>
    public SiloAddress[] EmbeddingSilos() => membership.CurrentSnapshot.Members.Values
        .Where(m => m.Status == SiloStatus.Active && roles.Offers(m.SiloAddress, SiloRoles.Embedding))
        .Select(m => m.SiloAddress).ToArray();

    public Task<float[][]> EmbedAsync(int[][] sequences, EmbeddingKind kind, CancellationToken cancellationToken = default)
    {
        if (Model.IsAvailable) return Model.EmbedTokensAsync(sequences, kind, cancellationToken);
        if (!Model.IsConfigured) throw new EmbeddingUnavailableException(Model.Status);
        return RemoteAsync(sequences, kind, cancellationToken);
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
