using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Collections;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Interfaces.Rag;
using RagCluster.Grains.Naming;
using RagCluster.Grains.Security;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Storage;

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
                foreach (var d in await Task.WhenAll(batch.Select(id => grains.GetGrain<IDocumentGrain>($"{collectionKey}/{id}").Export())))
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
    public static BackupManifest Verify(Stream archive)
    {
        using var zip = Open(archive);
        var manifest = ReadManifest(zip);
        var documents = ReadDocuments(zip);
        if (documents.Count != manifest.Documents) throw new BackupFormatException($"documents.jsonl has {documents.Count} documents, the manifest says {manifest.Documents}");
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var chunks = 0;
        foreach (var run in ChunkRuns(zip, manifest, documents.Keys.ToHashSet(StringComparer.Ordinal)))
        {
            counts[run.DocumentId] = counts.GetValueOrDefault(run.DocumentId) + run.Chunks.Count;
            chunks += run.Chunks.Count;
        }
        if (chunks != manifest.Chunks) throw new BackupFormatException($"chunks.jsonl has {chunks} chunks, the manifest says {manifest.Chunks}");
        foreach (var d in documents.Values)
            if (counts.GetValueOrDefault(d.DocumentId) != d.ChunkCount)
                throw new BackupFormatException($"document '{d.DocumentId}' should have {d.ChunkCount} chunks, the backup holds {counts.GetValueOrDefault(d.DocumentId)}");
        return manifest;
    }

    /// <summary>
    /// Verifies the archive, then creates <paramref name="collectionName"/> for <paramref name="tenant"/> (it must not
    /// exist) with the backup's settings and fills it: document records, then each document's chunks per shard.
    /// </summary>
    /// <summary>Chunks per UpsertMany during a restore: large enough for a multi-thread graph insert, small enough for one message.</summary>
    private const int RestoreBatchChunks = 2048;

    public static async Task<BackupManifest> RestoreAsync(IGrainFactory grains, string tenant, string collectionName, Stream archive, CancellationToken ct = default)
    {
        var manifest = Verify(archive);
        archive.Position = 0;
        using var zip = Open(archive);
        var documents = ReadDocuments(zip);
        var key = TenantScope.CollectionKey(tenant, collectionName);
        var layout = (await grains.GetGrain<ICollectionGrain>(key).Create(manifest.Settings)).Layout; // a conflict if it exists: nothing written yet
        await grains.GetGrain<ITenantGrain>(tenant).AddCollection(collectionName);
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var batch in documents.Values.Chunk(64))
        {
            ct.ThrowIfCancellationRequested();
            var restored = await Task.WhenAll(batch.Select(d => grains.GetGrain<IDocumentGrain>($"{key}/{d.DocumentId}").Restore(d)));
            foreach (var r in restored) versions[r.DocumentId] = r.Version;
        }
        // The bulk path: each shard takes its documents in batches (one log write and one multi-thread graph
        // insert each), while the other shards take theirs.
        var pending = new Dictionary<int, List<ShardUpsert>>();
        var pendingChunks = new Dictionary<int, int>();
        var inFlight = new Dictionary<int, Task>();
        async Task Send(int shard)
        {
            if (inFlight.TryGetValue(shard, out var previous)) await previous;
            var batch = pending[shard].ToArray();
            pending[shard].Clear();
            pendingChunks[shard] = 0;
            inFlight[shard] = grains.GetGrain<IIndexShardGrain>(layout.ShardKey(key, shard)).UpsertMany(batch);
        }
        foreach (var run in ChunkRuns(zip, manifest, documents.Keys.ToHashSet(StringComparer.Ordinal)))
        {
            ct.ThrowIfCancellationRequested();
            if (!pending.TryGetValue(run.Shard, out var list)) pending[run.Shard] = list = [];
            list.Add(new ShardUpsert(run.DocumentId, versions[run.DocumentId], run.Chunks.ToArray()));
            pendingChunks[run.Shard] = pendingChunks.GetValueOrDefault(run.Shard) + run.Chunks.Count;
            if (pendingChunks[run.Shard] >= RestoreBatchChunks) await Send(run.Shard);
        }
        foreach (var shard in pending.Keys.Where(k => pending[k].Count > 0).ToList()) await Send(shard);
        await Task.WhenAll(inFlight.Values);
        await grains.GetGrain<ICollectionGrain>(key).DocumentsAdded(documents.Keys.ToArray(), layout.Generation);
        return manifest;
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
        if (extra.Count > 0) throw new BackupFormatException($"unexpected files in the backup: {string.Join(", ", extra)}");
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
            var shard = DocumentGrain.ShardOf(c.ChunkId, manifest.Settings.ShardCount);
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

    private static IEnumerable<(string Line, int Number)> Lines(ZipArchive zip, string name)
    {
        using var reader = new StreamReader(zip.GetEntry(name)!.Open(), Encoding.UTF8);
        var n = 0;
        for (string? line; (line = reader.ReadLine()) is not null;)
        {
            n++;
            if (line.Length > 0) yield return (line, n);
        }
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
