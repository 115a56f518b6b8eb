using System.Text.RegularExpressions;

namespace RagCluster.Grains.Interfaces.Naming;

/// <summary>
/// The one rule set for names callers choose. Tenants and collections share a rule that never allows '.', which
/// joins them in grain keys ("tenant.collection"); document ids may hold dots, but not be "." or ".." (ambiguous URLs).
/// </summary>
public static partial class Names
{
    public const string NameRule = "1..64 of a-z, 0-9, '-' and '_', starting with a letter or digit";
    public const string DocumentIdRule = "1..200 of letters, digits, '.', '-' and '_', not '.' or '..' alone";

    /// <summary>A tenant or collection name.</summary>
    public static bool IsName(string? name) => name is not null && NameRegex().IsMatch(name);

    public static bool IsDocumentId(string? id) => id is not null && DocumentIdRegex().IsMatch(id);

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    private static partial Regex NameRegex();

    [GeneratedRegex(@"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,200}$")]
    private static partial Regex DocumentIdRegex();
}
