using System.Text.Json;
using RagCluster.Grains.Answering;
using RagCluster.Grains.Interfaces.Querying;

namespace RagCluster.Cli;

public static partial class Commands
{
    /// <summary>
    /// Follow-ups (issue 75, item 2): a folder of corpus.jsonl and conversations.jsonl ({"history": [earlier questions],
    /// "question": the follow-up, "answer": the document that answers it}); each follow-up is searched alone, with the
    /// question before it, and both fused as /ask does without a language model; the answering document's place is scored.
    /// </summary>
    public static async Task<int> FollowUpEval(IRagBackend backend, string collection, string folder, CancellationToken ct)
    {
        var conversationsPath = Path.Combine(folder, "conversations.jsonl");
        if (!File.Exists(conversationsPath)) throw new CliException($"{folder} has no conversations.jsonl");
        await IngestCorpusAsync(backend, collection, Path.Combine(folder, "corpus.jsonl"), ct);
        var conversations = File.ReadLines(conversationsPath).Select(l => JsonDocument.Parse(l).RootElement).Select(e => (
            History: e.GetProperty("history").EnumerateArray().Select(h => h.GetString()!).ToList(),
            Question: e.GetProperty("question").GetString()!, Answer: DocumentId(e.GetProperty("answer").GetString()!))).ToList();
        Console.WriteLine("| follow-up searched | conversations | answering document first | in the top 3 | /ask's first citation |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var way in new[] { "alone", "with the question before", "both, fused (/ask)" })
        {
            int first = 0, top3 = 0, cited = 0;
            foreach (var (history, question, answer) in conversations)
            {
                // /ask itself, as asked (no history) or with the history (the last way): its first citation.
                if (way != "with the question before"
                    && (await backend.AskAsync(collection, question, 5, null, ct, way == "alone" ? null : history.Select(h => (h, "")).ToList())).Citations.FirstOrDefault()?.DocumentId == answer) cited++;
                async Task<SearchHit[]> Hits(string q) => (await backend.SearchAsync(collection, new SearchRequest(q, 10, null, null), ct)).Hits;
                var hits = way switch
                {
                    "alone" => await Hits(question),
                    "with the question before" => await Hits(FollowUps.WithContext(question, history[^1])),
                    _ => FollowUps.Fuse(await Hits(question), await Hits(FollowUps.WithContext(question, history[^1])), 10),
                };
                var ranked = hits.Select(h => h.DocumentId).Distinct().ToList();
                if (ranked.FirstOrDefault() == answer) first++;
                if (ranked.Take(3).Contains(answer)) top3++;
            }
            Console.WriteLine($"| {way} | {conversations.Count} | {first} | {top3} | {(way == "with the question before" ? "" : cited)} |");
        }
        return 0;
    }
}
