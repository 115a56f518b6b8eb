using System.Text;

namespace RagCluster.Grains;

/// <summary>FNV-1a over UTF-8: the same value on every silo and every run (string.GetHashCode is randomised).</summary>
public static class StableHash
{
    public static uint Of(string s)
    {
        var h = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(s)) h = (h ^ b) * 16777619u;
        return h;
    }
}
