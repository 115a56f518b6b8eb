using RagCluster.Configuration;

namespace RagCluster.Grains.Documents;

/// <summary>Bound from "Ingest": how much a silo indexes at once, how much may wait, and how stranded documents are found.</summary>
public sealed class IngestOptions : IValidatedOptions
{
    /// <summary>Documents that index at once on a silo (see <see cref="IndexingSlots"/>).</summary>
    public int MaxConcurrentDocuments { get; set; } = 128;
    /// <summary>Documents accepted on a silo and still waiting to be indexed; past it a request waits, then gets 503.</summary>
    public int MaxQueuedDocuments { get; set; } = 10_000;
    /// <summary>The same bound in megabytes of waiting content.</summary>
    public int MaxQueuedMegabytes { get; set; } = 512;
    /// <summary>How long a request waits for room before it is refused whole.</summary>
    public TimeSpan AdmissionHold { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// How often a collection with unsettled documents checks them, and so how long a document stranded by a crash can
    /// wait once the cluster is back (one period at most, plus the silo's start).
    /// </summary>
    public TimeSpan PendingSweepPeriod { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>
    /// How long a sweep waits for one document's answer before leaving it to the next tick. A sweep holds its
    /// collection's turn; when the collection is deactivated (Orleans does that when the silo holding its directory
    /// entry dies), the deactivation waits for that turn while the documents' own calls to the collection wait for the
    /// deactivation, so unbounded the three wait out a whole call timeout.
    /// </summary>
    public TimeSpan PendingSweepCallTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Text documents of a batch up to this size (txt, md, html, json) take the bulk text path: accepted in one registry
    /// write a batch, then chunked, embedded and written a batch and a shard at a time (BulkTextIndexer) instead of a grain
    /// each. Larger ones, files, and the single-document form keep a pipeline of their own. 0 turns the path off.
    /// </summary>
    public int BulkTextMaxKilobytes { get; set; } = 64;
    /// <summary>Batches the bulk text path indexes at once on a silo: one chunks while another embeds and another writes its shards.</summary>
    public int BulkTextConcurrency { get; set; } = 4;

    public long MaxQueuedBytes => MaxQueuedMegabytes * 1024L * 1024;

    public void Validate()
    {
        if (MaxConcurrentDocuments is < 1 or > 100_000) throw new ArgumentException("Ingest:MaxConcurrentDocuments must be 1..100000");
        if (MaxQueuedDocuments is < 1 or > 10_000_000) throw new ArgumentException("Ingest:MaxQueuedDocuments must be 1..10000000");
        if (MaxQueuedMegabytes is < 1 or > 1_000_000) throw new ArgumentException("Ingest:MaxQueuedMegabytes must be 1..1000000");
        if (BulkTextMaxKilobytes is < 0 or > 1024 * 1024) throw new ArgumentException("Ingest:BulkTextMaxKilobytes must be 0..1048576 (0: off)");
        if (BulkTextConcurrency is < 1 or > 64) throw new ArgumentException("Ingest:BulkTextConcurrency must be 1..64");
        IValidatedOptions.TimeRange("Ingest:AdmissionHold", AdmissionHold, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        IValidatedOptions.TimeRange("Ingest:PendingSweepPeriod", PendingSweepPeriod, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        IValidatedOptions.TimeRange("Ingest:PendingSweepCallTimeout", PendingSweepCallTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1));
    }
}
