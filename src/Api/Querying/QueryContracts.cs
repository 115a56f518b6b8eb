using System.Text.Json;

namespace RagCluster.Api.Querying;

/// <summary>
/// The body of POST .../search: "query" text (1..2,000 characters), or a query "vector"/"vectorBase64" for collections of
/// own vectors (with text too for the lexical half); topK 1..100 (10), a filter on tags (docs/filters.md), a plan name, ef 1..4096,
/// consistency: "any" (the default: any copy of each shard answers) or "primary" (only the copies that take writes), and
/// readAfter: up to 100 document ids with the versions their ingest returned, to read those writes (a retriable 503 while
/// one is not indexed yet); groupBy "document" (topK documents, each with its groupSize best chunks, 1..10), scoreThreshold
/// (hits below it dropped; the plan's score: cosine similarity, BM25, or a fused rank score), offset (a page: offset + topK
/// at most 1,000, every page ranked in the same 1,000-deep window); fusion ("rrf" or "relative") and alpha (0..1, the vector
/// side's weight) steer the hybrid plan; textField (a field the collection declares "text") is where BM25 matches the query;
/// explain: true answers with how the search ran (its steps, and how each shard searched: an exact scan, the graph, or
/// which filtered walk, with the chunks the filter keeps there), computed afresh.
/// </summary>
public sealed record SearchBody(string? Query = null, int? TopK = null, JsonElement? Filter = null, string? Plan = null, float[]? Vector = null,
    string? VectorBase64 = null, int? Ef = null, string? Consistency = null, Dictionary<string, long>? ReadAfter = null,
    string? GroupBy = null, int? GroupSize = null, double? ScoreThreshold = null, int? Offset = null, string? Fusion = null, double? Alpha = null, string? TextField = null,
    bool? Explain = null);

/// <summary>
/// The body of POST .../ask: the question (1..2,000 characters), topK 1..100 (5), a tag filter, and stream for server-sent
/// events. A follow-up names its conversation: conversationId ("new" starts one; the reply gives its id), or history (the
/// earlier turns, oldest first, kept by the caller); not both.
/// </summary>
public sealed record AskBody(string? Question, int? TopK = null, bool? Stream = null, JsonElement? Filter = null, string? ConversationId = null, AskTurnBody[]? History = null);

/// <summary>An earlier turn a caller sends as history: its question (1..2,000 characters) and answer (up to 20,000).</summary>
public sealed record AskTurnBody(string? Question, string? Answer);

/// <summary>One chunk found: its document, position in the document's text, heading path and score.</summary>
public sealed record SearchHitReply(string DocumentId, string ChunkId, string Text, double Score, int Start, int End, string[] HeadingPath);

/// <summary>
/// What a search found, best first, with the plan that ran, whether it came from a cache tier (L1, L2, L3), its time,
/// the plans considered and the trace id to find it on the dashboard.
/// </summary>
public sealed record SearchReply(string? TraceId, string Plan, bool Cached, string? CacheTier, double ElapsedMs, string[] CandidatePlans, SearchHitReply[] Hits,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] SearchGroupReply[]? Groups = null,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] RagCluster.Grains.Interfaces.Querying.SearchExplain? Explain = null);

/// <summary>One document of a grouped search: its score (its best chunk's) and its best chunks, best first.</summary>
public sealed record SearchGroupReply(string DocumentId, double Score, SearchHitReply[] Hits);

/// <summary>One numbered citation of an answer: the chunk, its span in the document, and the quoted text.</summary>
public sealed record CitationReply(int Number, string DocumentId, string ChunkId, int Start, int End, double Score, string Quote);

/// <summary>
/// An answer with its citations; mode is "generated" (an LLM), "extractive" (none configured) or "extractive-fallback"
/// (the LLM failed: fallbackReason says why).
/// conversationId: the conversation the turn was kept in (none asked: null); searchedAs: for a follow-up, the queries the
/// passages were searched with (its standalone question from the LLM, or the follow-up as asked and with the question
/// before it); null for a question searched as asked.
/// </summary>
public sealed record AskReply(string Answer, CitationReply[] Citations, string Plan, string Mode, string? FallbackReason, string? TraceId,
    string? ConversationId = null, string[]? SearchedAs = null);

/// <summary>The last server-sent event of a streamed answer ("done").</summary>
public sealed record AskDone(string Plan, string Mode, string? FallbackReason, string? TraceId, string? ConversationId = null, string[]? SearchedAs = null);

/// <summary>A kept conversation: its id, when it expires unless asked again, and its turns, oldest first.</summary>
public sealed record ConversationReply(string ConversationId, DateTimeOffset ExpiresAt, ConversationTurnReply[] Turns);

/// <summary>One kept turn: the question as asked, the standalone question searched, the answer's text and when.</summary>
public sealed record ConversationTurnReply(string Question, string Standalone, string Answer, DateTimeOffset At);
