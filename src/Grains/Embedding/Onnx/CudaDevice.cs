using System.Runtime.InteropServices;
using System.Text;

namespace RagCluster.Grains.Embedding.Onnx;

/// <summary>
/// Names the GPU a CUDA session runs on, as the driver does: NVML (libnvidia-ml.so.1 ships with the NVIDIA driver, so
/// this needs no CUDA toolkit library). ONNX Runtime says which device id it uses, not which card or how much memory.
/// </summary>
internal static class CudaDevice
{
    /// <summary>"NVIDIA H100 80GB HBM3, 79.6 GiB", or null where the driver cannot be asked.</summary>
    public static string? Describe(int index)
    {
        try
        {
            if (nvmlInit_v2() != 0) return null;
            try
            {
                if (nvmlDeviceGetHandleByIndex_v2((uint)index, out var device) != 0) return null;
                var name = new byte[96];
                if (nvmlDeviceGetName(device, name, (uint)name.Length) != 0) return null;
                var text = Encoding.ASCII.GetString(name, 0, Math.Max(0, Array.IndexOf(name, (byte)0)));
                return nvmlDeviceGetMemoryInfo(device, out var memory) == 0
                    ? $"{text}, {memory.Total / (1024.0 * 1024 * 1024):F1} GiB"
                    : text;
            }
            finally
            {
                _ = nvmlShutdown();
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return null;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct NvmlMemory
    {
        public ulong Total;
        public ulong Free;
        public ulong Used;
    }

    private const string Nvml = "libnvidia-ml.so.1";
    [DllImport(Nvml)] private static extern int nvmlInit_v2();
    [DllImport(Nvml)] private static extern int nvmlShutdown();
    [DllImport(Nvml)] private static extern int nvmlDeviceGetHandleByIndex_v2(uint index, out IntPtr device);
    [DllImport(Nvml)] private static extern int nvmlDeviceGetName(IntPtr device, byte[] name, uint length);
    [DllImport(Nvml)] private static extern int nvmlDeviceGetMemoryInfo(IntPtr device, out NvmlMemory memory);
}
