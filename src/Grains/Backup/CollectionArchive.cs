using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RagCluster.Grains.Collections;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Indexing;
using RagCluster.Grains.Interfaces.Backup;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Naming;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Security;

namespace RagCluster.Grains.Backup;

/// <summary>A backup file that cannot be restored as it is: damaged, tampered with, or not a backup at all.</summary>
public sealed class BackupFormatException(string message) : InvalidRequestException(message);

public sealed record BackupFile(string Name, string Sha256, long Bytes, int Lines);

public sealed record BackupManifest(string Format, string Collection, DateTimeOffset CreatedAt, CollectionSettings Settings, int Documents,
    int Chunks, int? Dimensions, string[] Skipped, BackupFile[] Files);

/// <summary>
/// One collection as a zip: settings.json, documents.jsonl, chunks.jsonl (text, offsets, tags and vectors, so a
/// restore never re-embeds) and manifest.json with each file's SHA-256, size and line count. Restore reads the
/// whole archive and checks every checksum, count and reference before it writes anything.
/// </summary>
public static partial class CollectionArchive
{
    public const string FormatName = "ragcluster-backup/1";
    /// <summary>The longest line a backup's JSONL files may hold: a chunk of 32,768 characters with a 4,096-dimension vector is under 200 KB.</summary>
    public const int MaxLineBytes = 4 << 20;
    public const int MaxManifestBytes = 1 << 20;
    /// <summary>What an archive's files may inflate to, in all: this, and 100 times the archive's own size (a backup's JSONL compresses 2-5x).</summary>
    public const long MaxInflatedBytes = 64L << 30;
    public const int MaxInflateRatio = 100;
    private const int PageSize = 1000;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private sealed record ChunkLine(string ChunkId, string DocumentId, int Ordinal, int Start, int End, string Text, string[] HeadingPath,
        Dictionary<string, string> Tags, float[]? Vector);

    public static async Task<BackupManifest> WriteAsync(IGrainFactory grains, string collectionKey, string collectionName, Stream output, CancellationToken ct = default)
    {
        var info = await grains.GetGrain<ICollectionGrain>(collectionKey).GetInfo();
        // Documents first: a chunk goes in only if its shard holds the version the document says is indexed.
        var documents = new Dictionary<string, RestoredDocument>(StringComparer.Ordinal);
        await foreach (var page in grains.GetGrain<ICollectionGrain>(collectionKey).DocumentPagesAsync())
            foreach (var batch in page.Chunk(64))
                foreach (var d in await Task.WhenAll(batch.Select(id => grains.Document(collectionKey, id).Export())))
                    if (d is not null) documents[d.DocumentId] = d;

        using var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true);
        var files = new List<BackupFile>();
        var written = new Dictionary<string, int>(StringComparer.Ordinal);
        int? dimensions = null;
        var chunkCount = 0;
        files.Add(await WriteEntry(zip, "chunks.jsonl", async w =>
        {
            foreach (var shardKey in info.Settings.Layout.ShardKeys(collectionKey))
            {
                var grain = grains.GetGrain<IIndexShardGrain>(shardKey);
                for (var cursor = 0; cursor >= 0;)
                {
                    ct.ThrowIfCancellationRequested();
                    var page = await grain.Export(cursor, PageSize);
                    foreach (var c in page.Chunks)
                    {
                        if (!documents.TryGetValue(c.DocumentId, out var d) || page.DocumentVersions[c.DocumentId] != d.Version) continue;
                        if (c.Vector is { } v) dimensions ??= v.Length;
                        await w(JsonSerializer.Serialize(new ChunkLine(c.ChunkId, c.DocumentId, c.Ordinal, c.Start, c.End, c.Text, c.HeadingPath, c.Tags, c.Vector), Json));
                        written[c.DocumentId] = written.GetValueOrDefault(c.DocumentId) + 1;
                        chunkCount++;
                    }
                    cursor = page.NextCursor;
                }
            }
        }));
        // A document that changed while we read is left out (its chunks are listed as skipped), never half-saved.
        var skipped = documents.Values.Where(d => written.GetValueOrDefault(d.DocumentId) != d.ChunkCount).Select(d => d.DocumentId).Order(StringComparer.Ordinal).ToArray();
        foreach (var id in skipped) documents.Remove(id);
        chunkCount -= skipped.Sum(id => written.GetValueOrDefault(id));
        files.Add(await WriteEntry(zip, "documents.jsonl", async w =>
        {
            foreach (var d in documents.Values.OrderBy(d => d.DocumentId, StringComparer.Ordinal)) await w(JsonSerializer.Serialize(d, Json));
        }));
        files.Add(await WriteEntry(zip, "settings.json", w => w(JsonSerializer.Serialize(info.Settings, Json))));
        var manifest = new BackupManifest(FormatName, collectionName, DateTimeOffset.UtcNow, info.Settings, documents.Count, chunkCount, dimensions, skipped, files.ToArray());
        await using (var m = zip.CreateEntry("manifest.json").Open())
            await JsonSerializer.SerializeAsync(m, manifest, new JsonSerializerOptions(Json) { WriteIndented = true }, ct);
        return manifest;
    }

    private static async Task<BackupFile> WriteEntry(ZipArchive zip, string name, Func<Func<string, Task>, Task> body)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long bytes = 0;
        var lines = 0;
        await using (var stream = zip.CreateEntry(name, CompressionLevel.Fastest).Open())
        {
            await body(async line =>
            {
                var data = Encoding.UTF8.GetBytes(line + "\n");
                sha.AppendData(data);
                bytes += data.Length;
                lines++;
                await stream.WriteAsync(data);
            });
        }
        return new BackupFile(name, Convert.ToHexStringLower(sha.GetHashAndReset()), bytes, lines);
    }

    /// <summary>Checks the archive completely; throws <see cref="BackupFormatException"/> saying what is wrong.</summary>
    public static BackupManifest Verify(Stream archive) => Check(archive).Manifest;

    /// <summary><see cref="Verify"/>, and what each document will hold once restored (see DocumentSizes), for the tenant's share.</summary>
    private static (BackupManifest Manifest, Dictionary<string, StoredUsage> Sizes) Check(Stream archive)
    {
        using var zip = Open(archive);
        var manifest = ReadManifest(zip);
        var documents = ReadDocuments(zip);
        if (documents.Count != manifest.Documents) throw new BackupFormatException($"documents.jsonl has {documents.Count} documents, the manifest says {manifest.Documents}");
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var bytes = new Dictionary<string, long>(StringComparer.Ordinal);
        var ownVectors = manifest.Settings.Dimensions is not null;
        var chunks = 0;
        foreach (var run in ChunkRuns(zip, manifest, documents.Keys.ToHashSet(StringComparer.Ordinal)))
        {
            counts[run.DocumentId] = counts.GetValueOrDefault(run.DocumentId) + run.Chunks.Count;
            bytes[run.DocumentId] = bytes.GetValueOrDefault(run.DocumentId) + run.Chunks.Sum(c => DocumentSizes.Chunk(c.Text, ownVectors ? c.Vector : null));
            chunks += run.Chunks.Count;
        }
        if (chunks != manifest.Chunks) throw new BackupFormatException($"chunks.jsonl has {chunks} chunks, the manifest says {manifest.Chunks}");
        foreach (var d in documents.Values)
            if (counts.GetValueOrDefault(d.DocumentId) != d.ChunkCount)
                throw new BackupFormatException($"document '{d.DocumentId}' should have {d.ChunkCount} chunks, the backup holds {counts.GetValueOrDefault(d.DocumentId)}");
        return (manifest, documents.Keys.ToDictionary(id => id, id => new StoredUsage(1, counts.GetValueOrDefault(id), bytes.GetValueOrDefault(id)), StringComparer.Ordinal));
    }

    /// <summary>Chunks per UpsertMany during a restore: large enough for a multi-thread graph insert, small enough for one message.</summary>
    private const int RestoreBatchChunks = 2048;
    /// <summary>Documents registered per registry write at the end of a restore.</summary>
    private const int RestoreRegisterPage = 1000;

    /// <summary>
    /// Verifies the archive, then restores it into <paramref name="collectionName"/> of <paramref name="tenant"/> (it
    /// must not exist) all or nothing: the collection stays hidden while its shards take each document's chunks (in
    /// batches per shard, the shards in parallel) and its registry takes the documents' records, and appears only at the
    /// end. A restore that fails gives itself up; one whose silo dies is given up by the collection when its lease lapses.
    /// </summary>
    /// A restore that would pass a limit of the tenant is refused before anything is written (TenantLimitExceededException).
    public static async Task<BackupManifest> RestoreAsync(IGrainFactory grains, string tenant, string collectionName, Stream archive, CancellationToken ct = default)
    {
        var (manifest, sizes) = Check(archive);
        archive.Position = 0;
        using var zip = Open(archive);
        var documents = ReadDocuments(zip);
        var key = TenantScope.CollectionKey(tenant, collectionName);
        var collection = grains.GetGrain<ICollectionRestoreGrain>(key);
        var tenantGrain = grains.GetGrain<ITenantGrain>(tenant);
        await tenantGrain.AdmitCollection(collectionName);
        var ids = sizes.Keys.ToArray();
        await using var share = await TenantShare.ReserveAsync(grains, key, ids, [.. ids.Select(id => sizes[id])]);
        var start = await collection.BeginRestore(manifest.Settings, documents.Count); // a conflict if it exists: nothing written yet
        var incarnation = start.Settings.Incarnation;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var lease = RenewLeaseAsync(collection, incarnation, start.Lease, stop);
        try
        {
            await FillAsync(grains, key, collection, zip, manifest, documents, sizes, start, stop.Token);
            await stop.CancelAsync();
            await lease; // a lease that lapsed meanwhile fails the restore here, before it would show
            await collection.EndRestore(incarnation);
        }
        catch (Exception e)
        {
            await stop.CancelAsync();
            try { await collection.AbandonRestore(incarnation); }
            catch (Exception) { } // the lease lapses, and the collection gives the restore up by itself
            // A lapsed lease stopped the work: say so, not "cancelled".
            if (e is OperationCanceledException && lease.IsFaulted && !ct.IsCancellationRequested) await lease;
            throw;
        }
        await tenantGrain.AddCollection(collectionName);
        return manifest;
    }

    private static async Task RenewLeaseAsync(ICollectionRestoreGrain collection, long incarnation, TimeSpan lease, CancellationTokenSource stop)
    {
        using var timer = new PeriodicTimer(lease / 4);
        try
        {
            while (await timer.WaitForNextTickAsync(stop.Token)) await collection.RenewRestore(incarnation);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch
        {
            await stop.CancelAsync(); // given up (or unreachable): the restore stops at its next step
            throw;
        }
    }

    // Chunks to the shards (each document at the version the collection set aside for it), then the records to the registry.
    private static async Task FillAsync(IGrainFactory grains, string key, ICollectionRestoreGrain collection, ZipArchive zip, BackupManifest manifest,
        Dictionary<string, RestoredDocument> documents, Dictionary<string, StoredUsage> sizes, RestoreStart start, CancellationToken ct)
    {
        var layout = start.Settings.Layout;
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        var next = start.FirstVersion;
        foreach (var id in documents.Keys) versions[id] = next++;
        var held = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var pending = new Dictionary<int, List<ShardUpsert>>();
        var pendingChunks = new Dictionary<int, int>();
        var inFlight = new Dictionary<int, Task>();
        async Task Send(int shard)
        {
            if (inFlight.TryGetValue(shard, out var previous)) await previous;
            var batch = pending[shard].ToArray();
            pending[shard].Clear();
            pendingChunks[shard] = 0;
            // With the token: a restore given up stops waiting for a shard (its chunks are retired with it).
            inFlight[shard] = grains.GetGrain<IIndexShardGrain>(layout.ShardKey(key, shard)).UpsertMany(batch, ct);
        }
        foreach (var run in ChunkRuns(zip, manifest, documents.Keys.ToHashSet(StringComparer.Ordinal)))
        {
            ct.ThrowIfCancellationRequested();
            if (!pending.TryGetValue(run.Shard, out var list)) pending[run.Shard] = list = [];
            list.Add(new ShardUpsert(run.DocumentId, versions[run.DocumentId], run.Chunks.ToArray()));
            if (!held.TryGetValue(run.DocumentId, out var shards)) held[run.DocumentId] = shards = [];
            shards.Add(run.Shard);
            pendingChunks[run.Shard] = pendingChunks.GetValueOrDefault(run.Shard) + run.Chunks.Count;
            if (pendingChunks[run.Shard] >= RestoreBatchChunks) await Send(run.Shard);
        }
        foreach (var shard in pending.Keys.Where(k => pending[k].Count > 0).ToList()) await Send(shard);
        await Task.WhenAll(inFlight.Values);
        foreach (var page in documents.Values.Chunk(RestoreRegisterPage))
        {
            ct.ThrowIfCancellationRequested();
            var records = page.Select(d => new DocumentRecord(versions[d.DocumentId], d.ContentHash!, d.ChunkCount, d.Tags, d.Format!, layout.Generation,
                layout.ShardCount, [.. held.GetValueOrDefault(d.DocumentId, []).Order()], d.UpdatedAt) { FileName = d.FileName }).ToArray();
            await collection.RestoreDocuments(page.Select(d => d.DocumentId).ToArray(), records, start.Settings.Incarnation, [.. page.Select(d => sizes[d.DocumentId])]);
        }
    }

    private static ZipArchive Open(Stream archive)
    {
        try
        {
            return new ZipArchive(archive, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new BackupFormatException($"not a RagCluster backup (not a zip archive: {e.Message})");
        }
    }

    private static BackupManifest ReadManifest(ZipArchive zip)
    {
        var entry = zip.GetEntry("manifest.json") ?? throw new BackupFormatException("not a RagCluster backup: no manifest.json");
        if (entry.Length > MaxManifestBytes) throw new BackupFormatException($"manifest.json is larger than {MaxManifestBytes >> 20} MiB");
        BackupManifest? manifest;
        try
        {
            using var s = entry.Open();
            manifest = JsonSerializer.Deserialize<BackupManifest>(s, Json);
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            throw new BackupFormatException($"manifest.json is unreadable: {e.Message}");
        }
        if (manifest?.Format != FormatName) throw new BackupFormatException($"unsupported backup format '{manifest?.Format}' (expected {FormatName})");
        if (manifest.Settings is null || manifest.Files is null || manifest.Skipped is null) throw new BackupFormatException("manifest.json is incomplete");
        if (manifest.Settings.ShardCount is < 1 or > 256) throw new BackupFormatException("manifest settings are invalid");
        var expected = new[] { "chunks.jsonl", "documents.jsonl", "settings.json" };
        if (!manifest.Files.Select(f => f.Name).Order(StringComparer.Ordinal).SequenceEqual(expected))
            throw new BackupFormatException("the manifest must list exactly chunks.jsonl, documents.jsonl and settings.json");
        var extra = zip.Entries.Select(e => e.FullName).Except([.. expected, "manifest.json"]).ToList();
        if (extra.Count > 0) throw new BackupFormatException($"unexpected files in the backup: {string.Join(", ", extra.Take(5))}{(extra.Count > 5 ? $" and {extra.Count - 5} more" : "")}");
        // Read no further than the manifest says, and let it say no more than the bounds allow: a forged archive's files
        // would otherwise be inflated (and hashed) to whatever they expand into before the checksum failed.
        var allowed = Math.Min(MaxInflatedBytes, MaxInflateRatio * Math.Max(zip.Entries.Sum(e => e.CompressedLength), 1L << 20));
        if (manifest.Files.Any(f => f.Bytes < 0) || manifest.Files.Sum(f => f.Bytes) > allowed)
            throw new BackupFormatException($"the manifest's files inflate to more than {allowed:N0} bytes (at most {MaxInflateRatio}x the archive, and {MaxInflatedBytes >> 30} GiB)");
        foreach (var f in manifest.Files)
        {
            var e = zip.GetEntry(f.Name) ?? throw new BackupFormatException($"{f.Name} is missing");
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long bytes = 0;
            try
            {
                using var s = e.Open();
                var buffer = new byte[81920];
                for (int n; (n = s.Read(buffer)) > 0;)
                {
                    sha.AppendData(buffer.AsSpan(0, n));
                    bytes += n;
                    if (bytes > f.Bytes) break; // longer than the manifest says: the checksum fails below
                }
            }
            catch (InvalidDataException x)
            {
                throw new BackupFormatException($"{f.Name} is damaged: {x.Message}");
            }
            var actual = Convert.ToHexStringLower(sha.GetHashAndReset());
            if (bytes != f.Bytes || actual != f.Sha256)
                throw new BackupFormatException($"{f.Name} fails its checksum (sha256 {actual[..12]}…, manifest {(f.Sha256.Length >= 12 ? f.Sha256[..12] : f.Sha256)}…): the backup is damaged or was changed");
        }
        return manifest;
    }

    private static Dictionary<string, RestoredDocument> ReadDocuments(ZipArchive zip)
    {
        var documents = new Dictionary<string, RestoredDocument>(StringComparer.Ordinal);
        foreach (var (line, n) in Lines(zip, "documents.jsonl"))
        {
            var d = Parse<RestoredDocument>(line, "documents.jsonl", n);
            if (d.DocumentId is null || !Names.IsDocumentId(d.DocumentId) || d.Version < 1 || d.ChunkCount < 0 || d.Tags is null)
                throw new BackupFormatException($"documents.jsonl line {n}: invalid document record");
            if (!documents.TryAdd(d.DocumentId, d)) throw new BackupFormatException($"documents.jsonl line {n}: document '{d.DocumentId}' appears twice");
        }
        return documents;
    }

    private sealed record ChunkRun(string DocumentId, int Shard, List<ChunkRecord> Chunks);

    /// <summary>Chunks grouped as the backup writes them: each (document, shard) pair in one contiguous run.</summary>
    private static IEnumerable<ChunkRun> ChunkRuns(ZipArchive zip, BackupManifest manifest, HashSet<string> documents)
    {
        var skipped = manifest.Skipped.ToHashSet(StringComparer.Ordinal);
        var seenRuns = new HashSet<(string, int)>();
        var chunkIds = new HashSet<string>(StringComparer.Ordinal);
        ChunkRun? run = null;
        foreach (var (line, n) in Lines(zip, "chunks.jsonl"))
        {
            var c = Parse<ChunkLine>(line, "chunks.jsonl", n);
            if (c.DocumentId is null || c.ChunkId is null || c.Text is null || c.HeadingPath is null || c.Tags is null)
                throw new BackupFormatException($"chunks.jsonl line {n}: incomplete chunk");
            if (skipped.Contains(c.DocumentId)) continue;
            if (!documents.Contains(c.DocumentId)) throw new BackupFormatException($"chunks.jsonl line {n}: chunk of unknown document '{c.DocumentId}'");
            if (!chunkIds.Add(c.ChunkId)) throw new BackupFormatException($"chunks.jsonl line {n}: chunk '{c.ChunkId}' appears twice");
            if (c.Vector is not null && c.Vector.Length != manifest.Dimensions)
                throw new BackupFormatException($"chunks.jsonl line {n}: vector of {c.Vector.Length} dimensions, the manifest says {manifest.Dimensions}");
            if (c.Start < 0 || c.End < c.Start) throw new BackupFormatException($"chunks.jsonl line {n}: invalid offsets");
            var shard = ShardRouting.ShardOf(c.ChunkId, manifest.Settings.ShardCount);
            var record = new ChunkRecord(c.ChunkId, c.DocumentId, c.Ordinal, c.Start, c.End, c.Text, c.HeadingPath, c.Tags, c.Vector);
            if (run is not null && run.DocumentId == c.DocumentId && run.Shard == shard)
            {
                run.Chunks.Add(record);
                continue;
            }
            if (run is not null) yield return run;
            if (!seenRuns.Add((c.DocumentId, shard)))
                throw new BackupFormatException($"chunks.jsonl line {n}: chunks of '{c.DocumentId}' for shard {shard} are not contiguous");
            run = new ChunkRun(c.DocumentId, shard, [record]);
        }
        if (run is not null) yield return run;
    }

    /// <summary>The file's non-empty lines (LF or CRLF), each at most <see cref="MaxLineBytes"/>: a longer one fails at once, before it is held whole.</summary>
    private static IEnumerable<(string Line, int Number)> Lines(ZipArchive zip, string name)
    {
        using var stream = zip.GetEntry(name)!.Open();
        var buffer = new byte[1 << 16];
        var line = new MemoryStream();
        var n = 0;
        for (int read; (read = stream.Read(buffer, 0, buffer.Length)) > 0;)
        {
            for (var start = 0; start < read;)
            {
                var newline = Array.IndexOf(buffer, (byte)'\n', start, read - start);
                var end = newline < 0 ? read : newline;
                if (line.Length + end - start > MaxLineBytes)
                    throw new BackupFormatException($"{name} line {n + 1} is longer than {MaxLineBytes >> 20} MiB");
                line.Write(buffer, start, end - start);
                start = end + 1;
                if (newline < 0) break;
                n++;
                if (Text(line) is { Length: > 0 } text) yield return (text, n);
                line.SetLength(0);
            }
        }
        if (Text(line) is { Length: > 0 } last) yield return (last, n + 1);
    }

    private static string Text(MemoryStream line)
    {
        var length = (int)line.Length;
        if (length > 0 && line.GetBuffer()[length - 1] == (byte)'\r') length--;
        return Encoding.UTF8.GetString(line.GetBuffer(), 0, length);
    }

    private static T Parse<T>(string line, string file, int n)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(line, Json) ?? throw new BackupFormatException($"{file} line {n}: null record");
        }
        catch (JsonException e)
        {
            throw new BackupFormatException($"{file} line {n}: {e.Message}");
        }
    }
}
