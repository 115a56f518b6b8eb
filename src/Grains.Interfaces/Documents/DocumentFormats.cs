namespace RagCluster.Grains.Interfaces.Documents;

/// <summary>The formats a document may be sent in (its text extracted by the grains), and a file's format from its name or type.</summary>
public static class DocumentFormats
{
    public static readonly string[] Supported = ["txt", "md", "html", "json", "docx", "pdf"];

    /// <summary>Format from a file name or content type; null when neither says.</summary>
    public static string? Detect(string? fileName, string? contentType)
    {
        var ext = Path.GetExtension(fileName ?? "").TrimStart('.').ToLowerInvariant();
        switch (ext)
        {
            case "txt" or "text" or "log" or "csv": return "txt";
            case "md" or "markdown": return "md";
            case "html" or "htm" or "xhtml": return "html";
            case "json": return "json";
            case "docx": return "docx";
            case "pdf": return "pdf";
        }
        var ct = (contentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        return ct switch
        {
            "text/plain" => "txt",
            "text/markdown" => "md",
            "text/html" or "application/xhtml+xml" => "html",
            "application/json" => "json",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
            "application/pdf" => "pdf",
            _ => null,
        };
    }
}
