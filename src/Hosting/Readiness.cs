using RagCluster.Grains.Embedding;
using RagCluster.Storage;

namespace RagCluster.Hosting;

/// <summary>
/// The readiness check every silo answers the same way: store reachable, active in the membership, and the configured
/// model not failed (it loads with the first text to embed, so "not loaded yet" is ready).
/// </summary>
public sealed class Readiness(StoreLocation store, ILocalSiloDetails silo, IClusterMembershipService membership,
    EmbeddingModel model, Microsoft.Extensions.Options.IOptions<EmbeddingOptions> options)
{
    public sealed record Result(bool Ready, string SiloId, Checks Checks, string Detail, string Embedding);

    /// <summary>
    /// Each condition of readiness: the store answers, this silo is an active member, and the model (if configured)
    /// loaded: "loaded", "not loaded yet" (no text embedded here so far), "tokenizer only" (a silo without the embedding
    /// role), "not configured" or "failed".
    /// </summary>
    public sealed record Checks(bool Store, bool Membership, string Model);

    public async Task<Result> CheckAsync()
    {
        string? storeError = null;
        if (store.Kind != StoreKind.Memory)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await using var c = await store.OpenAsync(cts.Token);
                await using var cmd = c.CreateCommand();
                cmd.CommandText = "SELECT 1";
                await cmd.ExecuteScalarAsync(cts.Token);
            }
            catch (Exception e)
            {
                storeError = $"store {store.Description} unreachable: {e.GetBaseException().Message}";
            }
        }
        var status = membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress);
        var joined = status == SiloStatus.Active;
        var (state, modelOk, problem, line) = ModelCheck();
        var detail = storeError ?? (!joined ? $"this silo is {status} in the membership" : modelOk ? "ok" : problem);
        return new Result(storeError is null && joined && modelOk, silo.SiloAddress.ToString(), new Checks(storeError is null, joined, state), detail, line);
    }

    // The model's part: its state, whether it lets the silo be ready, why not, and the embedding status line.
    private (string State, bool Ok, string Problem, string Status) ModelCheck()
    {
        if (model.Current is not { } embeddings)
            return (!model.Configured ? "not configured" : model.Failed ? "failed" : "not loaded yet", !model.Failed, "the model failed to load", model.NotLoadedStatus);
        // A silo without the embedding role loads only the model's tokenizer: it chunks, an embedding silo embeds.
        var loaded = embeddings.Roles.Embeds ? embeddings.IsAvailable : embeddings.IsConfigured;
        var ok = loaded || !options.Value.DenseConfigured;
        return (loaded ? (embeddings.IsAvailable ? "loaded" : "tokenizer only") : ok ? "not configured" : "failed", ok, embeddings.Status, embeddings.Status);
    }
}
