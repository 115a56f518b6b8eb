using System.Runtime.InteropServices;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Metadata;

namespace RagCluster.Grains.Indexing;

/// <summary>
/// A shard's per-chunk bookkeeping in columns, an array per field indexed by slot, with each chunk's graph node: an
/// object per chunk and a list of slots per document cost nearly as much heap as a one-vector document's vector. A chunk's id is its document's id and ordinal
/// ("doc#3"), kept apart only where one differs; chunks without tags share one empty dictionary; the document id is
/// the same string object as the documents map's key.
/// </summary>
internal sealed class ShardChunks
{
    private static readonly Dictionary<string, string> NoTags = new(StringComparer.Ordinal);

    private string?[] _document = new string?[64]; // null: a free slot (its chunk was removed)
    private int[] _ordinal = new int[64], _start = new int[64], _end = new int[64], _node = new int[64];
    private string[] _text = new string[64];
    private string[][] _heading = new string[64][];
    private Dictionary<string, string>[] _tags = new Dictionary<string, string>[64];
    private readonly Dictionary<int, string> _oddIds = [];
    // Which live slots a filter matches, without a scan: the tags indexed, and the live slots as bits.
    private readonly ShardTagIndex _index = new();
    private readonly SlotSet _live = new(64);

    /// <summary>Slots ever used (free ones included): slot ids are 0..SlotCount-1.</summary>
    public int SlotCount { get; private set; }
    public int LiveCount { get; private set; }

    public bool IsLive(int slot) => _document[slot] is not null;

    /// <summary>Stores a chunk of <paramref name="documentId"/> (its vector goes to the graph, not here) in a new slot.</summary>
    public int Add(string documentId, ChunkRecord chunk)
    {
        var slot = SlotCount;
        Reserve(slot + 1);
        Put(slot, documentId, chunk);
        return slot;
    }

    /// <summary>Makes slots 0..<paramref name="slots"/>-1 exist (new ones free), as a restore does before it fills the live ones.</summary>
    public void Reserve(int slots)
    {
        if (slots > _document.Length)
        {
            var size = Math.Max(slots, _document.Length * 2);
            Array.Resize(ref _document, size);
            Array.Resize(ref _ordinal, size);
            Array.Resize(ref _start, size);
            Array.Resize(ref _end, size);
            Array.Resize(ref _node, size);
            Array.Resize(ref _text, size);
            Array.Resize(ref _heading, size);
            Array.Resize(ref _tags, size);
        }
        _live.Grow(slots);
        SlotCount = Math.Max(SlotCount, slots);
    }

    public void Put(int slot, string documentId, ChunkRecord chunk)
    {
        if (_document[slot] is null) LiveCount++;
        else Unpost(slot);
        _document[slot] = documentId;
        _ordinal[slot] = chunk.Ordinal;
        _start[slot] = chunk.Start;
        _end[slot] = chunk.End;
        _text[slot] = chunk.Text.Length == 0 ? string.Empty : chunk.Text;
        _heading[slot] = chunk.HeadingPath.Length == 0 ? [] : chunk.HeadingPath;
        _tags[slot] = chunk.Tags.Count == 0 ? NoTags : chunk.Tags;
        _index.Add(slot, _tags[slot]);
        _live.Add(slot);
        _node[slot] = -1;
        if (chunk.ChunkId != ChunkIds.Of(documentId, chunk.Ordinal)) _oddIds[slot] = chunk.ChunkId;
        else _oddIds.Remove(slot);
    }

    public void Remove(int slot)
    {
        if (_document[slot] is null) return;
        Unpost(slot);
        _live.Remove(slot);
        _document[slot] = null;
        _text[slot] = null!;
        _heading[slot] = null!;
        _tags[slot] = null!;
        _node[slot] = -1;
        _oddIds.Remove(slot);
        LiveCount--;
    }

    public string DocumentId(int slot) => _document[slot]!;
    public string Text(int slot) => _text[slot];
    public string ChunkId(int slot) => _oddIds.TryGetValue(slot, out var id) ? id : ChunkIds.Of(_document[slot]!, _ordinal[slot]);

    /// <summary>The graph node holding this slot's vector, or -1.</summary>
    public int NodeOf(int slot) => _node[slot];
    public void SetNode(int slot, int node) => _node[slot] = node;

    private void Unpost(int slot) => _index.Remove(slot, _tags[slot]);

    /// <summary>Replaces a live slot's tags (a metadata update: text and vector stay).</summary>
    public void SetTags(int slot, Dictionary<string, string> tags)
    {
        if (_document[slot] is null) return;
        Unpost(slot);
        _tags[slot] = tags.Count == 0 ? NoTags : tags;
        _index.Add(slot, _tags[slot]);
    }

    public IReadOnlyDictionary<string, string> Tags(int slot) => _tags[slot];

    /// <summary>The live slots <paramref name="filter"/> matches, exactly (see <see cref="ShardTagIndex"/>).</summary>
    public SlotSet Matching(FilterTerm filter) => _index.Select(filter, _live);

    public ChunkRecord Record(int slot, float[]? vector = null) =>
        new(ChunkId(slot), _document[slot]!, _ordinal[slot], _start[slot], _end[slot], _text[slot], _heading[slot], _tags[slot], vector);

    public ShardHit Hit(int slot, float score) =>
        new(ChunkId(slot), _document[slot]!, _ordinal[slot], _start[slot], _end[slot], _text[slot], _heading[slot], score);

    public void Clear()
    {
        Array.Clear(_document);
        _oddIds.Clear();
        _index.Clear();
        for (var slot = 0; slot < SlotCount; slot++) _live.Remove(slot);
        SlotCount = LiveCount = 0;
    }

}

/// <summary>
/// The version of a document a shard holds and its slots: the one slot inline (most documents in a shard have one
/// chunk there), more in an array.
/// </summary>
internal struct DocumentSlots
{
    public long Version;
    private int _first; // -1: none
    private int[]? _more;
    private int _count;

    public DocumentSlots(long version) => (Version, _first, _more, _count) = (version, -1, null, 0);

    public readonly int Count => _count;

    public void Add(int slot)
    {
        if (_count == 0) _first = slot;
        else
        {
            _more ??= new int[2];
            if (_count - 1 == _more.Length) Array.Resize(ref _more, _more.Length * 2);
            _more[_count - 1] = slot;
        }
        _count++;
    }

    public readonly IEnumerable<int> Slots
    {
        get
        {
            if (_count == 0) return [];
            if (_count == 1) return [_first];
            var all = new int[_count];
            all[0] = _first;
            Array.Copy(_more!, 0, all, 1, _count - 1);
            return all;
        }
    }
}

internal static class DocumentSlotMap
{
    /// <summary>The document's entry, to change in place (added with <paramref name="version"/> and no slots when new).</summary>
    public static ref DocumentSlots Entry(this Dictionary<string, DocumentSlots> documents, string documentId, long version)
    {
        ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(documents, documentId, out var exists);
        if (!exists) entry = new DocumentSlots(version);
        return ref entry;
    }
}
