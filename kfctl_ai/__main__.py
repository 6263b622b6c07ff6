from kfctl_ai.cli.main import main

if __name__ == "__main__":
    main()
