using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Collections;

/// <summary>
/// What the collection holds, for its tenant's share: a <c>held</c> row a document (its vectors and bytes, measured when
/// it was accepted, and the creation of the collection that accepted it) and their sums in the head, changed in the
/// same write as the registry, so they stay right through a crash. Shards play no part: a reshard or a shard's copies
/// change nothing here. A document counts from its acceptance until it is deleted or found never stored; one that
/// failed to index counts until it is deleted (its status stays readable until then).
/// </summary>
public sealed partial class CollectionGrain
{
    private const string HeldSet = "held";

    public Task<StoredUsage> Held() => Task.FromResult(_head.Settings is null ? StoredUsage.Zero : _head.Held ?? StoredUsage.Zero);

    public async Task<StoredUsage> Growth(string[] documentIds, StoredUsage[] sizes)
    {
        if (documentIds.Length != sizes.Length) throw new Interfaces.Errors.InvalidRequestException("one size a document");
        var latest = new Dictionary<string, StoredUsage>(StringComparer.Ordinal);
        for (var i = 0; i < documentIds.Length; i++) latest[documentIds[i]] = sizes[i];
        var stored = await rows.ReadAsync(HeldSet, latest.Keys);
        var incarnation = Settings.Incarnation;
        return latest.Aggregate(StoredUsage.Zero, (growth, d) => growth + d.Value - (HeldOf(stored.GetValueOrDefault(d.Key), incarnation) ?? StoredUsage.Zero));
    }

    /// <summary>The rows <see cref="Hold"/> reads, to name in a change's reads.</summary>
    private static IEnumerable<(string, string)> HeldRows(IEnumerable<string> documentIds) => documentIds.Select(id => (HeldSet, id));

    /// <summary>
    /// Records what a document holds from now on (null: nothing, it is gone) in its row and in the head's sums. The
    /// change must name the row in its reads.
    /// </summary>
    private static CollectionHead Hold(CollectionHead h, RowEdits edits, string documentId, StoredUsage? size)
    {
        var incarnation = h.Settings?.Incarnation ?? 0;
        var row = edits.Read(HeldSet, documentId);
        var before = HeldOf(row, incarnation);
        if (size is null)
        {
            if (row is not null) edits.Delete(HeldSet, documentId); // one of an earlier creation goes too
            if (before is null) return h;
        }
        else edits.Put(HeldSet, documentId, HeldRow(incarnation, size));
        return h with { Held = (h.Held ?? StoredUsage.Zero) - (before ?? StoredUsage.Zero) + (size ?? StoredUsage.Zero) };
    }

    private static byte[] HeldRow(long incarnation, StoredUsage size)
    {
        var row = new byte[24];
        BitConverter.TryWriteBytes(row.AsSpan(0, 8), incarnation);
        BitConverter.TryWriteBytes(row.AsSpan(8, 8), size.Vectors);
        BitConverter.TryWriteBytes(row.AsSpan(16, 8), size.Bytes);
        return row;
    }

    /// <summary>A held row's size, or null when there is none or it is an earlier creation's (the collection was dropped since).</summary>
    private static StoredUsage? HeldOf(byte[]? row, long incarnation) =>
        row is { Length: 24 } && BitConverter.ToInt64(row, 0) == incarnation ? new StoredUsage(1, BitConverter.ToInt64(row, 8), BitConverter.ToInt64(row, 16)) : null;
}
