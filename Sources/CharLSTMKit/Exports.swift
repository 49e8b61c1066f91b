// CharLSTMKit is the library users import: it re-exports the text, model and kernel modules.
@_exported import CharLSTMKernels
@_exported import CharLSTMModel
@_exported import CharLSTMText
@_exported import SafeTensors
