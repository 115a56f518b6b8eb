using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace RagCluster.Grains.Interfaces.Security;

/// <summary>
/// API keys look like "rck_{keyId}.{secret}": the key id names the grain, the 256-bit secret is shown once and
/// stored only as its SHA-256 (a random secret needs no salt or slow hash), compared in constant time.
/// </summary>
public static partial class ApiKeyFormat
{
    public static string NewKeyId() => "k" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    public static string NewSecret() => Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string Compose(string keyId, string secret) => $"rck_{keyId}.{secret}";

    public static bool TryParse(string? key, out string keyId, out string secret)
    {
        keyId = secret = "";
        if (key is null || key.Length > 200) return false;
        var m = KeyRegex().Match(key);
        if (!m.Success) return false;
        keyId = m.Groups[1].Value;
        secret = m.Groups[2].Value;
        return true;
    }

    /// <summary>The public part alone ("k" + 16 hex), as admins name a key.</summary>
    public static bool IsKeyId(string? keyId) => keyId is not null && KeyIdRegex().IsMatch(keyId);

    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [GeneratedRegex("^rck_(k[0-9a-f]{16})\\.([A-Za-z0-9_-]{43})$")]
    private static partial Regex KeyRegex();

    [GeneratedRegex("^k[0-9a-f]{16}$")]
    private static partial Regex KeyIdRegex();
}
