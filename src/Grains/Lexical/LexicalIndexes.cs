using RagCluster.Metadata;

namespace RagCluster.Grains.Lexical;

/// <summary>
/// A shard's BM25: one index over its chunks' text and one per text field the collection declares, each with its own
/// statistics (a word rare in one field is rare there, whatever the chunks say), all cut into terms by the
/// collection's language. Not thread-safe (the shard grain is single-threaded).
/// </summary>
public sealed class LexicalIndexes
{
    private Bm25Index _chunks = new();
    private readonly Dictionary<string, Bm25Index> _fields = new(StringComparer.Ordinal);

    /// <summary>How text becomes terms here: the collection's language (English until configured).</summary>
    public TermAnalyzer Analyzer { get; private set; } = TermAnalyzer.English;

    /// <summary>The collection's text fields and language, both fixed at its creation: set before any chunk is added.</summary>
    public void Configure(IEnumerable<string> textFields, TermAnalyzer analyzer)
    {
        Analyzer = analyzer;
        _fields.Clear();
        foreach (var field in textFields) _fields[field] = new Bm25Index();
    }

    public void Add(int slot, string text, IReadOnlyDictionary<string, string> tags)
    {
        _chunks.Add(slot, Analyzer.Terms(text)); // a chunk without words costs the index nothing
        if (_fields.Count > 0) AddFields(slot, tags);
    }

    /// <summary>A chunk's tags changed (a PATCH): its text fields are indexed again; its text is untouched.</summary>
    public void Retag(int slot, IReadOnlyDictionary<string, string> tags)
    {
        foreach (var index in _fields.Values) index.Remove(slot);
        AddFields(slot, tags);
    }

    public void Remove(int slot)
    {
        _chunks.Remove(slot);
        foreach (var index in _fields.Values) index.Remove(slot);
    }

    public void Clear()
    {
        _chunks = new Bm25Index();
        foreach (var field in _fields.Keys) _fields[field] = new Bm25Index();
    }

    /// <summary>
    /// The best chunks for the query's words in the chunks' text, or in <paramref name="field"/>; and the top hit's share
    /// of what a chunk holding every query word would score (how much of the query matched, for the hybrid weight).
    /// </summary>
    public (List<(int Slot, float Score)> Hits, float Coverage) Search(string query, string? field, int k, Func<int, bool>? accept)
    {
        var index = field is null ? _chunks : _fields.GetValueOrDefault(field);
        if (index is null) return ([], 0f); // not a text field of this collection (the query plan refuses that first)
        var terms = Analyzer.Terms(query);
        var hits = index.Search(terms, k, accept);
        var coverage = hits.Count > 0 && index.Ceiling(terms) is > 0 and var ceiling ? Math.Min(1f, hits[0].Score / ceiling) : 0f;
        return (hits, coverage);
    }

    private void AddFields(int slot, IReadOnlyDictionary<string, string> tags)
    {
        foreach (var (field, index) in _fields)
            if (tags.TryGetValue(field, out var stored) && TagValue.FromStored(stored) is { Kind: TagKind.String } value)
                index.Add(slot, Analyzer.Terms(value.String));
    }
}
