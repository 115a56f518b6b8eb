using RagCluster.Grains.Vectors;

namespace RagCluster.Grains.Indexing;

// Links per value of the linked fields: a chunk's node is a member of each linked value its tags hold, kept in step
// as it is added, re-tagged, deleted, restored and compacted.
public sealed partial class IndexShardGrain
{
    private void SyncValues(int slot)
    {
        if (_hnsw is { } graph && _chunks.NodeOf(slot) is >= 0 and var node) SyncValues(slot, node, graph);
    }

    private void SyncValues(int slot, int node, HnswIndex graph)
    {
        // A collection with no linked field, and no links from an earlier one: nothing to compare, on every chunk a load writes.
        if (_traits.LinkedFields.Length == 0 && graph.ValueCount == 0) return;
        var wanted = ShardValueKeys.Held(_chunks.Tags(slot), _traits.LinkedFields).ToHashSet(StringComparer.Ordinal);
        foreach (var held in graph.ValuesOf(node).ToList())
            if (!wanted.Remove(held)) graph.Leave(node, held);
        foreach (var key in wanted) graph.Join(node, key);
    }

    private void SyncAllValues()
    {
        if (_hnsw is null) return;
        for (var slot = 0; slot < _chunks.SlotCount; slot++)
            if (_chunks.IsLive(slot)) SyncValues(slot);
    }
}
