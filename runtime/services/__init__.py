"""The services over the runtime: the model server, batch scoring (in process or on Ray), and the workers that run
model files on another CPU class (replay) or machine (parity)."""
