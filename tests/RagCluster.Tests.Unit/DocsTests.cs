using System.Text.RegularExpressions;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests;

/// <summary>
/// The README is a front door and docs/ the manual: every link and anchor in them resolves, every repository path a
/// page names exists, and no page outgrows one topic. The dated runs in bench/results/ are records: their links must
/// resolve, but they may be long and may name files of their day.
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class DocsTests
{
    private static readonly string Root = RepoPaths.Root;

    private static IEnumerable<string> DocPages() =>
        Directory.GetFiles(Path.Combine(Root, "docs"), "*.md", SearchOption.AllDirectories).Order();

    public static TheoryData<string> Pages()
    {
        var pages = new TheoryData<string> { "README.md" };
        foreach (var f in DocPages()) pages.Add(Path.GetRelativePath(Root, f));
        return pages;
    }

    public static TheoryData<string> PagesAndRecords()
    {
        var pages = Pages();
        foreach (var f in Directory.GetFiles(Path.Combine(Root, "bench", "results"), "*.md").Order()) pages.Add(Path.GetRelativePath(Root, f));
        return pages;
    }

    /// <summary>The page's lines outside fenced code blocks.</summary>
    private static IEnumerable<string> Prose(string page)
    {
        var fenced = false;
        foreach (var line in File.ReadLines(Path.Combine(Root, page)))
        {
            if (line.TrimStart().StartsWith("```")) { fenced = !fenced; continue; }
            if (!fenced) yield return line;
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, HashSet<string>> AnchorsByPage = new();

    /// <summary>GitHub's anchors for a page's headings (read once a page): lower case, punctuation dropped, spaces as hyphens, repeats numbered.</summary>
    private static HashSet<string> Anchors(string page) => AnchorsByPage.GetOrAdd(page, ReadAnchors);

    private static HashSet<string> ReadAnchors(string page)
    {
        var anchors = new HashSet<string>();
        foreach (var line in Prose(page))
        {
            if (HeadingLine().Match(line) is not { Success: true } m) continue;
            var slug = NotInSlug().Replace(m.Groups[1].Value.Trim().ToLowerInvariant(), "").Replace(' ', '-');
            var unique = slug;
            for (var n = 1; !anchors.Add(unique); n++) unique = $"{slug}-{n}";
        }
        return anchors;
    }

    [Theory, MemberData(nameof(PagesAndRecords))]
    public void Every_link_and_anchor_resolves(string page)
    {
        var broken = new List<string>();
        foreach (var line in Prose(page))
            foreach (Match m in MarkdownLink().Matches(line))
            {
                var target = m.Groups[1].Value;
                if (target.StartsWith("http://") || target.StartsWith("https://") || target.StartsWith("mailto:")) continue;
                var hash = target.IndexOf('#');
                var (file, anchor) = hash < 0 ? (target, null) : (target[..hash], target[(hash + 1)..]);
                var path = file.Length == 0 ? page : Path.GetRelativePath(Root, Path.GetFullPath(Path.Combine(Root, Path.GetDirectoryName(page)!, file)));
                var full = Path.Combine(Root, path);
                if (!File.Exists(full) && !Directory.Exists(full)) broken.Add($"{target}: no such file");
                else if (anchor is not null && (!path.EndsWith(".md") || !Anchors(path).Contains(anchor))) broken.Add($"{target}: no such heading");
            }
        Assert.True(broken.Count == 0, $"{page}:\n" + string.Join("\n", broken));
    }

    [Theory, MemberData(nameof(Pages))]
    public void Every_repository_path_a_page_names_exists(string page)
    {
        var missing = Prose(page).SelectMany(l => CodeSpan().Matches(l)).Select(m => m.Groups[1].Value.TrimEnd('.', ',', ':', ')'))
            .Where(p => RepoPath().IsMatch(p) && !p.Contains('…') && !p.Contains('*') && !p.Contains('{') && !p.Contains('<'))
            .Select(p => p.Split(' ')[0])
            .Where(p => !File.Exists(Path.Combine(Root, p)) && !Directory.Exists(Path.Combine(Root, p)))
            .Distinct().ToList();
        Assert.True(missing.Count == 0, $"{page} names paths that do not exist: " + string.Join(", ", missing));
    }

    [Fact]
    public void The_readme_is_a_front_door_and_each_page_one_topic()
    {
        Assert.InRange(File.ReadAllLines(Path.Combine(Root, "README.md")).Length, 1, 200);
        foreach (var page in DocPages())
            Assert.True(File.ReadAllLines(page).Length <= 500, $"{Path.GetRelativePath(Root, page)} is over 500 lines: split it by topic");
    }

    [Fact]
    public void The_docs_index_links_every_page()
    {
        var index = File.ReadAllText(Path.Combine(Root, "docs", "README.md"));
        var unlisted = DocPages().Select(p => Path.GetRelativePath(Path.Combine(Root, "docs"), p).Replace('\\', '/'))
            .Where(p => p != "README.md" && !index.Contains($"]({p}")).ToList();
        Assert.True(unlisted.Count == 0, "docs/README.md does not link " + string.Join(", ", unlisted));
    }

    [GeneratedRegex(@"^#{1,6} +(.+?) *#*$")]
    private static partial Regex HeadingLine();

    [GeneratedRegex(@"[^\p{L}\p{Nd}\p{Mn}\p{Pc} -]")]
    private static partial Regex NotInSlug();

    [GeneratedRegex(@"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"`([^`]+)`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"^(src|tests|bench|deploy|scripts|docs)/[\w./-]+$|^(src|tests|bench|deploy|scripts|docs)/[\w./-]+ ")]
    private static partial Regex RepoPath();
}
