using RagCluster.Grains.Interfaces.Querying;

namespace RagCluster.Cli;

/// <summary>How well /ask's answers cite (issue 75, item 1): measured beside search's top 3 on the same questions.</summary>
public sealed record AskScores(int Questions, double CitationsPerAnswer, double CitationPrecision, double AnswersCitingRelevant, double SearchTop3HitRate)
{
    /// <summary>
    /// For each question the documents its answer cites (in citation order, repeats kept: each citation counts) and
    /// search's top 3 documents; a citation is precise when the qrels mark its document relevant to that question.
    /// </summary>
    public static AskScores Of(IReadOnlyList<(string Question, string[] Cited, string[] Top3)> answers, IReadOnlyDictionary<string, Dictionary<string, int>> qrels)
    {
        if (answers.Count == 0) return new AskScores(0, 0, 0, 0, 0);
        var citations = answers.Sum(a => a.Cited.Length);
        var precise = answers.Sum(a => a.Cited.Count(qrels[a.Question].ContainsKey));
        return new AskScores(answers.Count, citations / (double)answers.Count, citations == 0 ? 0 : precise / (double)citations,
            answers.Count(a => a.Cited.Any(qrels[a.Question].ContainsKey)) / (double)answers.Count,
            answers.Count(a => a.Top3.Any(qrels[a.Question].ContainsKey)) / (double)answers.Count);
    }
}

public static partial class Commands
{
    // Each question asked (the default top 5 passages) and searched (the default plan, its top 3 documents).
    private static async Task AskEvalAsync(IRagBackend backend, string collection, List<(string Id, string Text)> queries,
        Dictionary<string, Dictionary<string, int>> qrels, CancellationToken ct)
    {
        var answers = new List<(string, string[], string[])>();
        var asking = new System.Diagnostics.Stopwatch();
        foreach (var (qid, text) in queries)
        {
            var question = text.Length > QueryLimits.MaxQueryChars ? text[..QueryLimits.MaxQueryChars] : text;
            asking.Start();
            var (_, citations, _) = await backend.AskAsync(collection, question, 5, null, ct);
            asking.Stop();
            var top3 = (await backend.SearchAsync(collection, new SearchRequest(question, 10, null, null), ct)).Hits.Select(h => h.DocumentId).Distinct().Take(3).ToArray();
            answers.Add((qid, citations.Select(c => c.DocumentId).ToArray(), top3));
        }
        var s = AskScores.Of(answers, qrels);
        Console.WriteLine();
        Console.WriteLine("| /ask, extractive | questions | citations per answer | citation precision | answers citing a relevant document | search's top 3 holding one | mean ms/ask |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        Console.WriteLine($"| default | {s.Questions} | {s.CitationsPerAnswer:F2} | {s.CitationPrecision:F3} | {s.AnswersCitingRelevant:F3} | {s.SearchTop3HitRate:F3} | {asking.Elapsed.TotalMilliseconds / Math.Max(1, s.Questions):F1} |");
    }
}
