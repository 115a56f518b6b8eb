using RagCluster.Cli;

namespace RagCluster.Tests.Rag;

/// <summary>`ragcluster eval --ask`'s figures, by hand on three questions (issue 75's baseline).</summary>
[Trait("Category", "Unit")]
public sealed class AskScoresTests
{
    [Fact]
    public void Citations_count_one_by_one_and_a_question_counts_once_for_its_answer_and_for_searchs_top_3()
    {
        var qrels = new Dictionary<string, Dictionary<string, int>>
        {
            ["q1"] = new() { ["d1"] = 1 },
            ["q2"] = new() { ["d2"] = 1, ["d3"] = 2 },
            ["q3"] = new() { ["d9"] = 1 },
        };
        var s = AskScores.Of(
        [
            ("q1", ["d1", "d1", "d4"], ["d4", "d5", "d1"]), // 2 of 3 citations relevant; search's top 3 holds d1
            ("q2", ["d5"], ["d5", "d6", "d7"]),              // none relevant, nor in the top 3
            ("q3", [], ["d9"]),                              // no citation at all; the top 3 holds d9
        ], qrels);
        Assert.Equal(3, s.Questions);
        Assert.Equal(4 / 3.0, s.CitationsPerAnswer, 9);
        Assert.Equal(2 / 4.0, s.CitationPrecision, 9);
        Assert.Equal(1 / 3.0, s.AnswersCitingRelevant, 9);
        Assert.Equal(2 / 3.0, s.SearchTop3HitRate, 9);
        Assert.Equal(new AskScores(0, 0, 0, 0, 0), AskScores.Of([], qrels));
    }
}
