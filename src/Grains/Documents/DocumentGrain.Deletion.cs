using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Documents;

// Deleting: chunks leave every shard, then the document leaves its collection; a delete cut off part-way is finished by the next.
public sealed partial class DocumentGrain
{
    /// <summary>
    /// Deleted is stored first (with <see cref="DocumentState.RemovalPending"/>), then every shard and the collection are
    /// told, then the flag is cleared. A failure part-way leaves the flag, so repeating the call (or the next activation)
    /// finishes the job; a pass never runs beside it.
    /// </summary>
    public async Task<bool> Delete(ReadAccess? caller = null)
    {
        if (_indexing is not null) await _indexing.ContinueWith(_ => { }, TaskScheduler.Current); // let a running pass finish first
        await RefreshAsync();
        if (await HiddenFromAsync(caller)) return false; // none to this caller, as a document that does not exist
        if (_removing is { IsCompleted: false } running) return await running;
        var task = DeleteAsync();
        _removing = task;
        return await task;
    }

    private async Task<bool> DeleteAsync()
    {
        // A bulk-written document is noted as accepted first: until the delete has finished, bulk writes of it take the
        // grain path (they would otherwise register a version this delete then unregisters), and the sweep finishes a
        // delete a crash cut off.
        if (_adopted && _state.Current.Status != DocumentStatuses.Deleted)
        {
            try { _acceptances.Add((await AcceptAsync()).Stamp); }
            catch (CollectionGoneException) { } // the collection's own delete: no bulk write can begin any more
        }
        long deletedAt = 0;
        await _state.UpdateAsync(s =>
        {
            if (s.Version == 0 || s.Status == DocumentStatuses.Deleted)
            {
                deletedAt = s.RemovalPending ? s.Version : 0; // nothing there, or a delete to finish (its version, read in the turn)
                return false;
            }
            s.Version = NextVersion(s.Version);
            s.Status = DocumentStatuses.Deleted;
            s.PendingContent = null;
            s.ContentHash = null;
            s.ChunkCount = 0;
            s.HeldShards = null; // every shard is told
            s.RemovalPending = true;
            s.UpdatedAt = DateTimeOffset.UtcNow;
            deletedAt = s.Version;
            return true;
        });
        if (deletedAt == 0) return false;
        _adopted = false;
        _retry?.Dispose();
        _retry = null;
        // Every shard of every layout the collection writes (two while it reshards) is told; if the layouts change
        // before the collection hears of it, it refuses, and the new ones are told. So are the shards the document was
        // last indexed in, if they differ (a collection dropped meanwhile reads default settings) and are not retired.
        // A document of a creation of the collection that was dropped since tells only the shards it was indexed in
        // (retired with their collection, or retiring): the collection serving under the name now has none of it.
        var indexedIn = _state.Current.ShardCount > 0 ? new ShardLayout(_state.Current.LayoutGeneration, _state.Current.ShardCount) : null;
        var incarnation = _state.Current.Incarnation;
        await WithCurrentLayouts(async settings =>
        {
            var ours = Owns(settings, incarnation);
            var removals = (ours ? settings.WriteLayouts : []).SelectMany(layout => layout.ShardKeys(Collection))
                .Select(key => GrainFactory.GetGrain<IIndexShardGrain>(key).RemoveDocument(DocumentId, deletedAt)).ToList();
            if (indexedIn is not null && !(ours && settings.WriteLayouts.Contains(indexedIn)))
                removals.AddRange(indexedIn.ShardKeys(Collection).Select(async key =>
                {
                    try { await GrainFactory.GetGrain<IIndexShardGrain>(key).RemoveDocument(DocumentId, deletedAt); }
                    catch (ShardLayoutChangedException) { } // retired: it holds nothing
                }));
            await Task.WhenAll(removals);
            if (ours) await GrainFactory.GetGrain<ICollectionRegistryGrain>(Collection).DocumentChanged(DocumentId, present: false, Generations(settings), incarnation);
        });
        await _state.UpdateAsync(s =>
        {
            if (s.Version != deletedAt || !s.RemovalPending) return false; // ingested again meanwhile: that version owns it now
            s.RemovalPending = false;
            return true;
        });
        return true;
    }

    private async Task<bool> FinishDeleteAsync()
    {
        try
        {
            return await DeleteAsync();
        }
        catch (Exception e)
        {
            DocumentLog.DeleteStopped(log, Collection, DocumentId, e.Message);
            if (!_stopping.IsCancellationRequested) _retry = RegisterRetry(RetryPeriod);
            return false;
        }
    }
}
