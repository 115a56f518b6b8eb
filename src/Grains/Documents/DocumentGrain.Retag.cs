using System.Security.Cryptography;
using System.Text;
using RagCluster.Grains.Indexing;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Metadata;

namespace RagCluster.Grains.Documents;

// Changing an indexed document's tags without its content: a new version whose chunks keep their text and vectors.
public sealed partial class DocumentGrain
{
    public async Task<DocumentStatus> UpdateTags(Dictionary<string, string?> changes, ReadAccess? caller = null)
    {
        await RefreshAsync();
        var current = _state.Current;
        // One the caller cannot see is none to it: it can neither find it nor re-tag it into view.
        if (current.Version == 0 || current.Status is DocumentStatuses.Deleted or DocumentStatuses.Unknown || await HiddenFromAsync(caller))
            throw new NotFoundException($"no document '{DocumentId}'");
        if (current.Status == DocumentStatuses.Failed)
            throw new ConflictException($"document '{DocumentId}' failed to index ({current.Error}); send its content again");
        if (Merged(current.Tags, changes) is var merged && TagRules.SizeProblem(merged) is { } tooMany) throw new InvalidRequestException(tooMany);
        if (Same(merged, current.Tags)) return Snapshot();
        // Not embedded yet: the same content again with these tags, indexed as any new version.
        if (IsPending) return await Ingest(new IngestRequest(current.Format!, current.PendingContent!, merged, current.FileName));

        var (acceptedAt, incarnation) = await AcceptAsync(); // the collection's sweep finishes it if this silo dies
        _acceptances.Add(acceptedAt);
        var contentArrived = false;
        // Merged again in the write's turn: a change that landed meanwhile (this grain is reentrant) is kept, not overwritten.
        await _state.UpdateAsync(s =>
        {
            if (s.PendingContent is not null) return !(contentArrived = true);
            merged = Merged(s.Tags, changes);
            if (TagRules.SizeProblem(merged) is { } problem) throw new InvalidRequestException(problem);
            if (Same(merged, s.Tags)) return false;
            s.Version = NextVersion(s.Version);
            s.Status = DocumentStatuses.Pending;
            s.TagsPending = true;
            s.Tags = merged;
            s.ContentHash = RetaggedHash(s.ContentHash, merged);
            (s.AcceptedStamp, s.Incarnation) = (acceptedAt, incarnation);
            s.UpdatedAt = DateTimeOffset.UtcNow;
            return true;
        });
        if (contentArrived) return await UpdateTags(changes, caller); // new content came in between: its version takes the tags
        _adopted = false;
        EnsureIndexing();
        return Snapshot();
    }

    private static Dictionary<string, string> Merged(Dictionary<string, string> tags, Dictionary<string, string?> changes)
    {
        var merged = new Dictionary<string, string>(tags, StringComparer.Ordinal);
        foreach (var (key, value) in changes)
            if (value is null) merged.Remove(key);
            else merged[key] = value;
        return merged;
    }

    private static bool Same(Dictionary<string, string> a, Dictionary<string, string> b) =>
        a.Count == b.Count && a.All(t => b.TryGetValue(t.Key, out var v) && v == t.Value);

    private bool IsRetagPending => _state.Current is { Status: DocumentStatuses.Pending, TagsPending: true, PendingContent: null };

    /// <summary>
    /// The retag pass: the serving layout's shards that hold the document retag its chunks (a log entry of tags, no
    /// vectors); a layout a reshard is building gets the chunks whole at the new version, read from the serving one, since
    /// its copy of this document may not have arrived yet. Then the collection registers it and the version is indexed.
    /// </summary>
    private async Task<bool> RetagAsync()
    {
        var pending = _state.Current;
        var version = pending.Version;
        bool Superseded() => _state.Current.Version != version || _stopping.IsCancellationRequested;
        try
        {
            var settings = RequireOwned(await GrainFactory.GetGrain<ICollectionGrain>(Collection).GetSettings(), pending);
            settings = await WithCurrentLayouts(async current =>
            {
                var layout = RequireOwned(current, pending).Layout;
                var known = pending.HeldShards is { } held && pending.LayoutGeneration == layout.Generation && pending.ShardCount == layout.ShardCount;
                var shards = known ? pending.HeldShards! : Enumerable.Range(0, layout.ShardCount).ToArray();
                await Task.WhenAll(shards.Select(i => GrainFactory.GetGrain<IIndexShardGrain>(layout.ShardKey(Collection, i)).Retag(DocumentId, version, pending.Tags)));
                if (current.ReshardingTo is { } target) await CopyRetaggedAsync(layout, shards, target, pending);
                if (Superseded()) return;
                await GrainFactory.GetGrain<ICollectionRegistryGrain>(Collection).DocumentChanged(DocumentId, present: true, Generations(current), pending.Incarnation);
            }, settings);
            if (Superseded()) return true;
            await _state.UpdateAsync(s =>
            {
                if (s.Version != version || !s.TagsPending) return false;
                s.Status = DocumentStatuses.Indexed;
                s.IndexedVersion = version;
                s.TagsPending = false;
                s.UpdatedAt = DateTimeOffset.UtcNow;
                return true;
            });
            return true;
        }
        catch (CollectionGoneException) when (!Superseded())
        {
            var removal = DeleteAsync();
            _removing = removal;
            await removal;
            return true;
        }
        catch (Exception e) when (e is not Orleans.Storage.InconsistentStateException)
        {
            if (_stopping.IsCancellationRequested) return true;
            DocumentLog.IndexingFailed(log, Collection, DocumentId, version, e.Message);
            return false;
        }
    }

    // The document's chunks as the serving layout holds them (now retagged), written whole at the new version to the layout being built.
    private async Task CopyRetaggedAsync(ShardLayout serving, int[] shards, ShardLayout target, DocumentState pending)
    {
        var pages = await Task.WhenAll(shards.Select(i => GrainFactory.GetGrain<IIndexShardGrain>(serving.ShardKey(Collection, i)).Documents([DocumentId], includeVectors: true)));
        var chunks = pages.SelectMany(p => p.Chunks).Where(c => c.DocumentId == DocumentId).Select(c => c with { Tags = pending.Tags }).ToList();
        await Task.WhenAll(chunks.GroupBy(c => ShardRouting.ShardOf(c.ChunkId, target.ShardCount)).Select(g =>
            GrainFactory.GetGrain<IIndexShardGrain>(target.ShardKey(Collection, g.Key)).Upsert(DocumentId, pending.Version, g.ToArray())));
    }

    // What a resend must match to be a no-op: the content's hash stands for the content, which is no longer held.
    private static string RetaggedHash(string? contentHash, Dictionary<string, string> tags)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes("retag\n" + contentHash + "\n"));
        foreach (var (k, v) in tags.OrderBy(t => t.Key, StringComparer.Ordinal)) sha.AppendData(Encoding.UTF8.GetBytes($"{k}={v}\n"));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
