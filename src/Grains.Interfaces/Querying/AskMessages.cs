namespace RagCluster.Grains.Interfaces.Querying;

/// <summary>A question: its search (whose query is the question) and how many sentences an extractive answer quotes at most.</summary>
[GenerateSerializer, Immutable, Alias("rc.AskRequest")]
public sealed record AskRequest(SearchRequest Search, int MaxSentences)
{
    /// <summary>For a follow-up: the question asked before it, which it may refer to ("And black tea?"); null for a first question.</summary>
    [Id(2)] public string? Earlier { get; init; }
}

/// <summary>
/// The search, the extractive answer drawn from its hits, and <see cref="Passages"/>: the hits the answer's sentences
/// come from, best first (indexes into the search's hits; a generated answer is given these).
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.AskResponse")]
public sealed record AskResponse(SearchResponse Search, Answer Extractive, int[] Passages)
{
    /// <summary>The queries the hits were searched with: the question, and for a follow-up also the question with the one before it.</summary>
    [Id(3)] public string[] SearchedAs { get; init; } = [];
}

/// <summary>A cited span of a document: <see cref="Start"/> and <see cref="End"/> are character offsets into its extracted text.</summary>
[GenerateSerializer, Immutable, Alias("rc.Citation")]
public sealed record Citation(int Number, string DocumentId, string ChunkId, int Start, int End, double Score, string Quote);

/// <summary>An answer's text, with [n] markers, and the citations they refer to.</summary>
[GenerateSerializer, Immutable, Alias("rc.Answer")]
public sealed record Answer(string Text, Citation[] Citations);
