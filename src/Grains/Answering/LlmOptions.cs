namespace RagCluster.Grains.Answering;

/// <summary>Bound from "Llm": an OpenAI-compatible chat endpoint (OpenAI, Ollama's /v1, vLLM, llama.cpp server).</summary>
public sealed class LlmOptions : RagCluster.Configuration.IValidatedOptions
{
    /// <summary>Base URL up to /v1, e.g. http://127.0.0.1:11434/v1 for Ollama. Empty: extractive answers only.</summary>
    public string Endpoint { get; set; } = "";
    public string Model { get; set; } = "";
    public string ApiKey { get; set; } = "";
    /// <summary>Per attempt; the whole call (retries included) gets (MaxRetries + 1) times this.</summary>
    public double TimeoutSeconds { get; set; } = 30;
    public int MaxRetries { get; set; } = 2;
    /// <summary>The breaker opens when this share of calls failed within its sampling window (at least 4 calls)…</summary>
    public double BreakerFailureRatio { get; set; } = 0.5;
    /// <summary>…and stays open this long; meanwhile /ask answers extractively.</summary>
    public double BreakerBreakSeconds { get; set; } = 30;
    public int MaxTokens { get; set; } = 512;

    public bool IsConfigured => !string.IsNullOrWhiteSpace(Endpoint);

    public void Validate()
    {
        if (IsConfigured && (!Uri.TryCreate(Endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
            throw new ArgumentException($"Llm:Endpoint '{Endpoint}' is not an http(s) URL");
        if (IsConfigured && string.IsNullOrWhiteSpace(Model)) throw new ArgumentException("Llm:Model is required with Llm:Endpoint");
        if (TimeoutSeconds is < 1 or > 600) throw new ArgumentException("Llm:TimeoutSeconds must be 1..600");
        if (MaxRetries is < 0 or > 10) throw new ArgumentException("Llm:MaxRetries must be 0..10");
        if (BreakerFailureRatio is <= 0 or > 1) throw new ArgumentException("Llm:BreakerFailureRatio must be in (0, 1]");
        if (BreakerBreakSeconds is < 0.5 or > 3600) throw new ArgumentException("Llm:BreakerBreakSeconds must be 0.5..3600");
        if (MaxTokens is < 1 or > 32768) throw new ArgumentException("Llm:MaxTokens must be 1..32768");
    }
}
