print("charlstm")
